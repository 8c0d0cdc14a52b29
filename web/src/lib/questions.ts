/**
 * The Questions panel's sentences, built from the numbers of GET /api/runs/{id}/questions:
 * one message per fact key (`questions.fact.<key>` in the catalogues), its numbers formatted
 * for the page's language.
 */
import type { Fact, FactLink, Question } from "../api/questions";
import { epochFraction, fmtNumber, fmtPercent } from "./format";
import { t, tOr, type MessageKey, type MessageValues } from "./i18n";
import { runHref } from "./router";

/** A question's title, in the page's language. */
export function questionTitle(question: Question): string {
  return t(`questions.title.${question}` as MessageKey);
}

/** How a question's answer is computed, in the page's language. */
export function questionHow(question: Question): string {
  return t(`questions.how.${question}` as MessageKey);
}

type Values = Record<string, unknown>;
/** A snapshot's epoch and step, by snapshot index, to say when something happened. */
export type SnapshotTimes = ReadonlyArray<{ epoch: number; step: number }>;

const num = (values: Values, key: string): number => Number(values[key]);
const text = (values: Values, key: string): string => String(values[key] ?? "");
const percent = (values: Values, key: string, digits = 1): string => fmtPercent(num(values, key), digits);

/** "X and Y and Z", in the page's language. */
function joined(items: string[]): string {
  return items.length ? items.reduce((list, item) => t("questions.and", { list, item })) : "";
}

/** "after ¼ of the first epoch", "at epoch 2", "at step 40". */
export function whenInTraining(epoch: number, step: number): string {
  const fraction = epochFraction(epoch, step);
  if (epoch < 1 && fraction !== null) return t("questions.when.firstEpoch", { fraction });
  if (fraction !== null) return t("questions.when.epoch", { fraction });
  return t("questions.when.step", { step });
}

/** "epoch 2 ½", "⅛ into the first epoch"; from the epoch alone where the snapshot is unknown. */
export function snapshotPhrase(times: SnapshotTimes, snapshot: unknown, epoch: number): string {
  const known = typeof snapshot === "number" ? times[snapshot] : undefined;
  const fraction = known ? epochFraction(known.epoch, known.step) : null;
  if (known && fraction !== null)
    return known.epoch < 1
      ? t("questions.phrase.firstEpoch", { fraction })
      : t("questions.phrase.epoch", { fraction });
  return t("questions.phrase.epoch", { fraction: fmtNumber(epoch) });
}

interface LastClass {
  name: string;
  epoch: number | null;
  snapshot: number | null;
}

function lastClasses(v: Values, times: SnapshotTimes): MessageValues {
  const classes = (v.classes as LastClass[]) ?? [];
  const share = percent(v, "threshold", 0);
  const parts = classes.map((c) =>
    c.epoch === null
      ? t("questions.class.never", { name: c.name, share })
      : t("questions.class.from", { name: c.name, share, when: snapshotPhrase(times, c.snapshot, c.epoch) }),
  );
  return { classes: joined(parts) };
}

interface Forgotten {
  image: number;
  class: string;
  events: number;
}

function mostForgotten(v: Values): MessageValues {
  const top = (v.top as Forgotten[]) ?? [];
  const others = top.slice(1).map((f) => t("questions.forgotten.other", { image: f.image, n: f.events }));
  return {
    image: num(v, "image"),
    class: text(v, "class"),
    events: num(v, "events"),
    others: others.length ? joined(others) : "none",
    forgotten: num(v, "forgotten_images"),
    images: num(v, "images"),
  };
}

/** "the top left", "the centre", "the middle right". */
export function regionName(region: string, side: string): string {
  if (region === "middle" && side === "centre") return t("questions.region.centre");
  return tOr(`questions.region.${region}.${side}`, `${region} ${side}`);
}

function faithful(v: Values): MessageValues {
  return { auc: fmtNumber(num(v, "auc"), 2), random: fmtNumber(num(v, "random_auc"), 2) };
}

/** Each fact key's message values, from the fact's numbers. */
const VALUES: Record<string, (v: Values, times: SnapshotTimes) => MessageValues> = {
  "learn.milestone": (v) => ({
    threshold: percent(v, "threshold", 0),
    when: whenInTraining(num(v, "epoch"), num(v, "step")),
    step: num(v, "step"),
    accuracy: percent(v, "accuracy"),
  }),
  "learn.milestone_missed": (v) => ({
    threshold: percent(v, "threshold", 0),
    best: percent(v, "best"),
    epoch: fmtNumber(num(v, "epoch")),
  }),
  "learn.last_classes": lastClasses,
  "learn.most_forgotten": mostForgotten,
  "learn.none_forgotten": (v) => ({ snapshots: num(v, "snapshots") }),
  "learn.confused_pair": (v, times) => ({
    first: text(v, "first"),
    second: text(v, "second"),
    share: percent(v, "share"),
    peak: percent(v, "peak_share"),
    when: snapshotPhrase(times, v.peak_snapshot, num(v, "peak_epoch")),
  }),
  "learn.no_snapshot": () => ({}),
  "look.where": (v) => ({
    target: text(v, "target"),
    truth: text(v, "truth"),
    verdict: v.truth === undefined ? "none" : text(v, "truth") === text(v, "target") ? "right" : "wrong",
    image: num(v, "image"),
    region: regionName(text(v, "region"), text(v, "side")),
    share: percent(v, "share"),
  }),
  "look.on_object": (v) => ({ share: percent(v, "share"), object: percent(v, "object_share") }),
  "look.faithful": faithful,
  "look.unfaithful": faithful,
  "look.flat": (v) => ({ target: text(v, "target"), image: num(v, "image") }),
  "look.missing": (v) => ({ image: num(v, "image") }),
  "look.no_snapshot": () => ({}),
  "decide.layer": (v) => ({
    share: percent(v, "share", 0),
    network: percent(v, "network"),
    layer: text(v, "layer"),
    position: num(v, "position"),
    layers: num(v, "layers"),
    accuracy: percent(v, "accuracy"),
    input: percent(v, "input"),
    snapshot: v.snapshot !== null && v.snapshot !== undefined ? num(v, "snapshot") + 1 : "none",
  }),
  "decide.never": (v) => ({
    share: percent(v, "share", 0),
    network: percent(v, "network"),
    best_layer: text(v, "best_layer"),
    best: percent(v, "best"),
  }),
  "decide.at_input": (v) => ({
    input: percent(v, "input"),
    share: percent(v, "share", 0),
    network: percent(v, "network"),
    layer: text(v, "layer"),
    accuracy: percent(v, "accuracy"),
  }),
  "decide.missing": () => ({}),
  "decide.no_snapshot": () => ({}),
};

/** The sentence of a fact, in the page's language (`times`: the run's snapshots, to say when). */
export function sentence(fact: Fact, times: SnapshotTimes = []): string {
  const values = VALUES[fact.key];
  return values ? tOr(`questions.fact.${fact.key}`, fact.key, values(fact.values, times)) : fact.key;
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
  const snapshot = link.snapshot !== null && link.snapshot !== undefined ? link.snapshot + 1 : "none";
  if (link.tab === "explain") return t("questions.link.explain", { image: link.image ?? "", snapshot });
  if (link.tab === "depth")
    return link.layer
      ? t("questions.link.depthLayer", { layer: link.layer, snapshot })
      : t("questions.link.depth");
  if (link.tab === "layers")
    return link.layer
      ? t("questions.link.layer", { layer: link.layer, snapshot })
      : t("questions.link.layers", { snapshot });
  if (link.image !== null && link.image !== undefined)
    return t("questions.link.follow", { image: link.image });
  return t("questions.link.training", { snapshot });
}

/** What a fact's compute button says. */
export function computeLabel(fact: Fact): string {
  return fact.compute && "depth" in fact.compute
    ? t("questions.compute.depth")
    : t("questions.compute.gradcam");
}
