"""The three questions about a run, answered from its own data: numbers, not sentences.

``GET /runs/{id}/questions`` reads only what is stored (every snapshot's probe logits and
confusion matrix, a Grad-CAM result computed before, the per-layer accuracies of the Depth
view) and never waits on the inspection worker: where something is missing, the answer
says what computes it (a lens request, or the Depth view's measures), and the client asks
for that through the routes that do it, then asks again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Query

from convscope import questions
from convscope.depth.recording import DepthRecord, read_record
from convscope.errors import InvalidInput, NotFound
from convscope.questions import Answer, Fact
from convscope.server.deps import StoreDep
from convscope.server.encoding import json_safe
from convscope.server.routes.lenses import stored_result
from convscope.server.schemas import AnswerOut, FactOut, QuestionsOut
from convscope.store import SnapshotRecord, Store

router = APIRouter(tags=["questions"])


def _snapshot_arrays(store: Store, run_id: str, records: list[SnapshotRecord]) -> list[dict]:
    found = []
    for record in records:
        try:
            arrays = store.snapshot_arrays(run_id, record.index)
        except NotFound:
            continue  # a snapshot whose file is gone says nothing
        if "logits" in arrays:
            found.append({"record": record, **arrays})
    return found


def _learning(snapshots: list[dict], labels: np.ndarray | None, class_names: list[str]) -> Answer:
    if labels is None or not snapshots:
        return questions.learning_answer([], np.zeros(0, int), [], [], [], class_names)
    confusions = [s["confusion"] for s in snapshots if "confusion" in s]
    return questions.learning_answer(
        [s["logits"] for s in snapshots],
        labels,
        confusions if len(confusions) == len(snapshots) else [],
        [s["record"].epoch for s in snapshots],
        [s["record"].step for s in snapshots],
        class_names,
    )


def _looking(
    store: Store,
    run_id: str,
    image: int,
    last: dict | None,
    probe: dict[str, np.ndarray],
    class_names: list[str],
) -> Answer:
    snapshot = None if last is None else last["record"].index
    if last is None or not last["record"].has_weights:
        return questions.looking_answer(image=image, snapshot=None)
    missing = questions.looking_answer(image=image, snapshot=snapshot)
    request = dict(missing.facts[0].compute or {})
    reply = stored_result(store, run_id, request.pop("lens"), request)
    if reply is None:
        return missing
    predicted = int(np.argmax(last["logits"][image]))
    truth = int(probe["labels"][image])
    masks = probe.get("masks")
    return questions.looking_answer(
        image=image,
        snapshot=snapshot,
        target=class_names[predicted] if predicted < len(class_names) else str(predicted),
        heatmap=reply.arrays["map"][0],
        deletion_auc=float(reply.meta["deletion_auc"][0]),
        random_deletion_auc=float(reply.meta["deletion_random_auc"][0]),
        mask=None if masks is None else np.asarray(masks[image], bool),
        truth=class_names[truth] if truth < len(class_names) else str(truth),
    )


def _deciding(store: Store, run_id: str, records: list[SnapshotRecord]) -> Answer:
    # The latest snapshot measured: the Depth view measures them in order.
    found: tuple[int, DepthRecord] | None = None
    for record in reversed(records):
        depth = read_record(store, run_id, record.index)
        if depth is not None:
            found = (record.index, depth)
            break
    if found is None:
        return questions.deciding_answer(
            None, None, None, snapshot=None, has_snapshots=bool(records)
        )
    index, depth = found
    return questions.deciding_answer(
        depth.layers,
        depth.probe.tolist(),
        depth.network_probe,
        snapshot=index,
        same_as=depth.same_as,
    )


def _fact_out(fact: Fact) -> FactOut:
    return FactOut.model_validate(
        {
            "key": fact.key,
            "values": json_safe(fact.values),
            "link": fact.link,
            "compute": json_safe(fact.compute) if fact.compute is not None else None,
        }
    )


def _default_image(learn: Answer) -> int:
    """The image forgotten most (the most telling one to look at), else the first."""
    for fact in learn.facts:
        if fact.key == "learn.most_forgotten":
            return int(fact.values["image"])
    return 0


@router.get(
    "/runs/{run_id}/questions",
    response_model=QuestionsOut,
    responses={
        404: {"description": "No such run"},
        422: {"description": "The image is not in the probe set"},
    },
)
def get_questions(
    run_id: str,
    store: StoreDep,
    image: int | None = Query(
        default=None,
        ge=0,
        description="the probe image of 'What did it look at?'; default: the image forgotten "
        "most, else the first",
    ),
) -> QuestionsOut:
    """How did it learn? What did it look at? Where does it decide? Each answer as facts
    (a message key, its numbers, the view that shows it), from the run's stored data."""
    run = store.get_run(run_id)
    records = store.list_snapshots(run_id)
    try:
        probe: dict[str, Any] = store.read_run_arrays(run_id, "probe")
    except NotFound:
        probe = {}
    labels = probe.get("labels")
    class_names = list(run.class_names or [])
    snapshots = _snapshot_arrays(store, run_id, records) if labels is not None else []
    learn = _learning(snapshots, labels, class_names)
    count = 0 if labels is None else len(labels)
    if image is not None and image >= count:
        raise InvalidInput("image", f"the probe set has {count} images (0..{count - 1})")
    chosen = image if image is not None else _default_image(learn)
    answers = [learn]
    if count:
        last = snapshots[-1] if snapshots else None
        answers.append(_looking(store, run_id, chosen, last, probe, class_names))
    else:
        answers.append(questions.looking_answer(image=0, snapshot=None))
    answers.append(_deciding(store, run_id, records))
    return QuestionsOut(
        snapshot=records[-1].index if records else None,
        image=chosen if count else None,
        answers=[
            AnswerOut(question=answer.question, facts=[_fact_out(f) for f in answer.facts])
            for answer in answers
        ],
    )
