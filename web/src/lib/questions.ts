/**
 * The Questions panel's sentences, built from the numbers of GET /api/runs/{id}/questions:
 * one small function per fact key, so that each can move into a message catalogue as is.
 */
import type { Fact, FactLink, Question } from "../api/questions";
import { epochFraction, fmtNumber, fmtPercent } from "./format";
import { runHref } from "./router";

export const QUESTION_TITLES: Record<Question, string> = {
  learn: "How did it learn?",
  look: "What did it look at?",
  decide: "Where does it decide?",
};

export const QUESTION_HOW: Record<Question, string> = {
  learn:
    "From the probe images' predictions at every snapshot and the confusion matrices: when the network got them right, which classes came last, which images it forgot.",
  look: "From Grad-CAM on one image at the last snapshot: where its map's mass lies, and whether deleting the pixels it points at first really lowers the class's probability.",
  decide:
    "From a linear probe trained on each layer's features: the first layer from which a straight cut separates the classes almost as well as the whole network.",
};

type Values = Record<string, unknown>;
/** A snapshot's epoch and step, by snapshot index, to say when something happened. */
export type SnapshotTimes = ReadonlyArray<{ epoch: number; step: number }>;

const num = (values: Values, key: string): number => Number(values[key]);
const text = (values: Values, key: string): string => String(values[key] ?? "");
const quoted = (name: string): string => `“${name}”`;

/** "after ¼ of the first epoch", "at epoch 2", "at step 40". */
export function whenInTraining(epoch: number, step: number): string {
  const fraction = epochFraction(epoch, step);
  if (epoch < 1 && fraction !== null) return `after ${fraction} of the first epoch`;
  if (fraction !== null) return `at epoch ${fraction}`;
  return `at step ${step}`;
}

/** "epoch 2 ½", "⅛ into the first epoch"; from the epoch alone where the snapshot is unknown. */
export function snapshotPhrase(times: SnapshotTimes, snapshot: unknown, epoch: number): string {
  const known = typeof snapshot === "number" ? times[snapshot] : undefined;
  const fraction = known ? epochFraction(known.epoch, known.step) : null;
  if (known && fraction !== null)
    return known.epoch < 1 ? `${fraction} into the first epoch` : `epoch ${fraction}`;
  return `epoch ${fmtNumber(epoch)}`;
}

function milestone(v: Values): string {
  return (
    `The probe images' accuracy first passed ${fmtPercent(num(v, "threshold"), 0)} ` +
    `${whenInTraining(num(v, "epoch"), num(v, "step"))} (step ${num(v, "step")}): ` +
    `${fmtPercent(num(v, "accuracy"))}.`
  );
}

function milestoneMissed(v: Values): string {
  return (
    `It never reached ${fmtPercent(num(v, "threshold"), 0)}: its best was ` +
    `${fmtPercent(num(v, "best"))}, at epoch ${fmtNumber(num(v, "epoch"))}.`
  );
}

interface LastClass {
  name: string;
  epoch: number | null;
  snapshot: number | null;
}

function lastClasses(v: Values, times: SnapshotTimes): string {
  const classes = (v.classes as LastClass[]) ?? [];
  const share = fmtPercent(num(v, "threshold"), 0);
  const parts = classes.map((c) =>
    c.epoch === null
      ? `${quoted(c.name)} (never ${share} right)`
      : `${quoted(c.name)} (${share} right from ${snapshotPhrase(times, c.snapshot, c.epoch)})`,
  );
  return `Learned last: ${parts.join(" and ")}.`;
}

interface Forgotten {
  image: number;
  class: string;
  events: number;
}

function mostForgotten(v: Values): string {
  const top = (v.top as Forgotten[]) ?? [];
  const others = top.slice(1).map((f) => `image ${f.image} (${f.events}×)`);
  return (
    `Image ${num(v, "image")} (${quoted(text(v, "class"))}) was forgotten most: ` +
    `${num(v, "events")} times right, then wrong again` +
    (others.length ? `, then ${others.join(" and ")}` : "") +
    `. ${num(v, "forgotten_images")} of the ${num(v, "images")} probe images were forgotten at least once.`
  );
}

function confusedPair(v: Values, times: SnapshotTimes): string {
  return (
    `${quoted(text(v, "first"))} and ${quoted(text(v, "second"))} are confused most: ` +
    `${fmtPercent(num(v, "share"))} of their validation images are given the other class at the end, ` +
    `${fmtPercent(num(v, "peak_share"))} at the worst, at ${snapshotPhrase(times, v.peak_snapshot, num(v, "peak_epoch"))}.`
  );
}

const REGION: Record<string, string> = { top: "top", middle: "middle", bottom: "bottom" };

/** "the top left", "the centre", "the middle right". */
export function regionName(region: string, side: string): string {
  if (region === "middle" && side === "centre") return "the centre";
  return `the ${REGION[region] ?? region} ${side}`;
}

function where(v: Values): string {
  const target = quoted(text(v, "target"));
  const truth = v.truth === undefined ? null : text(v, "truth");
  const verdict =
    truth === null
      ? `Image ${num(v, "image")}: the network says ${target}. `
      : truth === text(v, "target")
        ? `Image ${num(v, "image")}: the network says ${target}, rightly. `
        : `Image ${num(v, "image")}: the network says ${target}, but it is ${quoted(truth)}. `;
  return (
    verdict +
    `Grad-CAM for ${target} puts most of its mass in ` +
    `${regionName(text(v, "region"), text(v, "side"))} of the image: ${fmtPercent(num(v, "share"))} of it in that ninth.`
  );
}

function onObject(v: Values): string {
  return (
    `${fmtPercent(num(v, "share"))} of the map lies on the object, ` +
    `which covers ${fmtPercent(num(v, "object_share"))} of the image.`
  );
}

function faithful(v: Values, yes: boolean): string {
  const areas = `(deletion area ${fmtNumber(num(v, "auc"), 2)} against ${fmtNumber(num(v, "random_auc"), 2)} for random maps; lower is better)`;
  return yes
    ? `The map is faithful: deleting the pixels it ranks first lowers the class's probability faster than deleting random ones ${areas}.`
    : `The map is no better than chance: deleting the pixels it ranks first lowers the class's probability no faster than random ones ${areas}.`;
}

function decisionLayer(v: Values): string {
  return (
    `The linear probe first reaches ${fmtPercent(num(v, "share"), 0)} of the network's own accuracy ` +
    `(${fmtPercent(num(v, "network"))}) at ${text(v, "layer")}, layer ${num(v, "position")} of ${num(v, "layers")}: ` +
    `${fmtPercent(num(v, "accuracy"))}. On the raw pixels it gets ${fmtPercent(num(v, "input"))}` +
    (v.snapshot !== null && v.snapshot !== undefined ? ` (snapshot ${num(v, "snapshot") + 1}).` : ".")
  );
}

function decisionAtInput(v: Values): string {
  return (
    `Already on the raw pixels, a linear probe gets ${fmtPercent(num(v, "input"))}, at least ` +
    `${fmtPercent(num(v, "share"), 0)} of the network's own ${fmtPercent(num(v, "network"))}: these classes are ` +
    `nearly separable before any layer. The first layer, ${text(v, "layer")}, gets ${fmtPercent(num(v, "accuracy"))}; ` +
    `the Depth view shows where the rest is gained.`
  );
}

function decisionNever(v: Values): string {
  return (
    `No layer's linear probe reaches ${fmtPercent(num(v, "share"), 0)} of the network's accuracy ` +
    `(${fmtPercent(num(v, "network"))}); the best is ${text(v, "best_layer")}, at ${fmtPercent(num(v, "best"))}.`
  );
}

const SENTENCES: Record<string, (v: Values, times: SnapshotTimes) => string> = {
  "learn.milestone": milestone,
  "learn.milestone_missed": milestoneMissed,
  "learn.last_classes": lastClasses,
  "learn.most_forgotten": mostForgotten,
  "learn.none_forgotten": (v) =>
    `No probe image was forgotten: once right, each stayed right over the ${num(v, "snapshots")} snapshots.`,
  "learn.confused_pair": confusedPair,
  "learn.no_snapshot": () =>
    "No snapshot yet: the answer appears with the first one, early in the first epoch.",
  "look.where": where,
  "look.on_object": onObject,
  "look.faithful": (v) => faithful(v, true),
  "look.unfaithful": (v) => faithful(v, false),
  "look.flat": (v) =>
    `Grad-CAM finds nothing for ${quoted(text(v, "target"))} on image ${num(v, "image")}: its map is zero everywhere.`,
  "look.missing": (v) =>
    `Grad-CAM has not been computed for image ${num(v, "image")} at the last snapshot yet: press the button (a few seconds), or open the image in the Explain view.`,
  "look.no_snapshot": () => "No snapshot yet: Grad-CAM needs the network's weights from a snapshot.",
  "decide.layer": decisionLayer,
  "decide.never": decisionNever,
  "decide.at_input": decisionAtInput,
  "decide.missing": () =>
    "Each layer's linear probe is not measured yet for this run: press the button, or open the Depth view, which measures them.",
  "decide.no_snapshot": () => "No snapshot yet: the layers are measured at each snapshot.",
};

/** The sentence of a fact, in English (`times`: the run's snapshots, to say when). */
export function sentence(fact: Fact, times: SnapshotTimes = []): string {
  const make = SENTENCES[fact.key];
  return make ? make(fact.values, times) : fact.key;
}

/** The address a fact's link opens. */
export function linkHref(runId: string, link: FactLink): string {
  const query: Record<string, string> = {};
  if (link.snapshot !== null && link.snapshot !== undefined) query.snapshot = String(link.snapshot);
  if (link.image !== null && link.image !== undefined) query.image = `probe:${link.image}`;
  if (link.layer) query.layer = link.layer;
  return runHref(runId, link.tab, query);
}

/** What a fact's link says, from where it leads. */
export function linkLabel(link: FactLink): string {
  const at = link.snapshot !== null && link.snapshot !== undefined ? ` at snapshot ${link.snapshot + 1}` : "";
  if (link.tab === "explain") return `Open image ${link.image ?? ""} in Explain${at}`;
  if (link.tab === "depth") return link.layer ? `Open ${link.layer} in Depth${at}` : "Open the Depth view";
  if (link.tab === "layers") return `Open ${link.layer ?? "the layers"}${at}`;
  if (link.image !== null && link.image !== undefined) return `Follow image ${link.image} through training`;
  return at ? `See the training view${at}` : "See the training view";
}

/** What a fact's compute button says. */
export function computeLabel(fact: Fact): string {
  return fact.compute && "depth" in fact.compute
    ? "Measure every layer"
    : "Compute Grad-CAM and its faithfulness";
}
