export type DType = "float32" | "int32" | "uint8" | "uint16";

export interface EncodedArray {
  dtype: DType;
  shape: number[];
  data: string;
}

export interface Health {
  status: string;
  version: string;
  workers: number;
  executor?: string | null;
}

export interface DatasetInfo {
  name: string;
  title: string;
  description: string;
  image_shape: number[];
  num_classes: number;
  class_names: string[];
  available: boolean;
  location: string | null;
  reason: string | null;
  train_count: number | null;
  test_count: number | null;
}

export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  discriminator?: unknown;
};

export interface Block {
  type: string;
  [key: string]: unknown;
}

export interface ArchSpec {
  name: string;
  blocks: Block[];
  [key: string]: unknown;
}

export interface Preset {
  name: string;
  description: string;
  spec: ArchSpec;
}

export type Optimizer = "adam" | "sgd" | "rmsprop" | "adamw";
export type WeightInit = "glorot_uniform" | "he_normal" | "he_uniform" | "lecun_normal";

export interface RunConfig {
  name?: string | null;
  dataset: string;
  dataset_options?: Record<string, string | number | boolean>;
  train_size?: number | null;
  test_size?: number | null;
  arch: string | ArchSpec;
  optimizer: Optimizer | string;
  learning_rate: number;
  batch_size: number;
  epochs: number;
  weight_init: WeightInit | string;
  dropout?: number | null;
  augment_shift: number;
  augment_flip: boolean;
  seed: number;
  probe_size: number;
  snapshot_fractions?: number[];
  snapshots_per_epoch?: number;
  eval_size?: number | null;
  record_depth?: boolean;
}

/** Blocks that need an image-shaped tensor, and blocks after which it is a vector. */
export interface BlockOrder {
  needs_image: string[];
  makes_vector: string[];
}

export interface Architectures {
  presets: Preset[];
  block_types: Record<string, JsonSchema>;
  block_order: BlockOrder;
  config: { default: RunConfig; schema: JsonSchema };
}

export type RunStatus = "queued" | "running" | "done" | "failed" | "cancelled" | "interrupted";

export const TERMINAL_STATUSES: readonly RunStatus[] = ["done", "failed", "cancelled", "interrupted"];

export interface Progress {
  epoch: number;
  step: number;
  steps_per_epoch: number;
  epochs: number;
}

export interface Metrics {
  train_loss: number | null;
  train_accuracy: number | null;
  val_loss: number | null;
  val_accuracy: number | null;
}

export interface Run {
  id: string;
  name: string | null;
  status: RunStatus;
  source: string;
  config: RunConfig;
  class_names: string[];
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  final_metrics: Metrics | null;
  error: string | null;
  num_snapshots: number;
  queue_position: number | null;
  progress: Progress | null;
  sweep_id?: string | null;
}

/** A list of values (grid or random), or a range that random search draws from. */
export type SweepValues = unknown[] | { min: number; max: number; log?: boolean; integer?: boolean };

export interface SweepSpec {
  name?: string | null;
  method?: "grid" | "random";
  base: Partial<RunConfig>;
  parameters: Record<string, SweepValues>;
  budget?: number | null;
  seed?: number;
  early_stopping?: { rule: "median" | "none"; min_epochs?: number; min_runs?: number };
}

export interface SweepPoint {
  epoch: number;
  val_accuracy: number | null;
}

export interface SweepRun {
  run: Run;
  values: Record<string, unknown>;
  final_accuracy: number | null;
  curve: SweepPoint[];
  stopped_early: string | null;
}

export interface SweepSummary {
  id: string;
  name: string | null;
  created_at: string;
  method: string;
  varied: string[];
  num_runs: number;
  finished_runs: number;
  best_accuracy: number | null;
}

export interface Sweep extends SweepSummary {
  spec: SweepSpec;
  runs: SweepRun[];
  best: string[];
}

export interface SnapshotSummary {
  index: number;
  epoch: number;
  step: number;
  metrics: Metrics;
}

export interface LayerStats {
  name: string;
  weight_norm: number | null;
  grad_norm: number | null;
  update_ratio: number | null;
  activation_mean: number | null;
  activation_std: number | null;
  dead_fraction: number | null;
}

export interface SnapshotDetail extends SnapshotSummary {
  predictions: EncodedArray;
  probabilities: EncodedArray;
  positions: EncodedArray;
  confusion: number[][];
  layers: LayerStats[];
}

export interface BatchColumns {
  step: number[];
  epoch: number[];
  loss: number[];
  accuracy: number[];
}

/** Batch curves as sent: each column an encoded array (plain lists are accepted too). */
export interface BatchColumnsWire {
  step: number[] | EncodedArray;
  epoch: number[] | EncodedArray;
  loss: number[] | EncodedArray;
  accuracy: number[] | EncodedArray;
}

export interface Curves {
  batches: BatchColumnsWire;
  snapshots: SnapshotSummary[];
}

export interface ProbeInfo {
  count: number;
  labels: number[] | EncodedArray;
  class_names: string[];
  tile_width: number;
  tile_height: number;
  channels: number;
  columns: number;
  atlas_url: string;
  /** Validation images measured at every snapshot; null for older runs. */
  evaluated: number | null;
  validation_size: number | null;
  /** Equal for two runs that follow the same probe images. */
  images_digest: string;
}

export interface Timeline {
  epochs: number[];
  true_probability: EncodedArray;
  correct: EncodedArray;
  forgetting_events: number[];
  first_learned: number[];
  hardest: number[];
}

/** The probe set is recorded: its images can be fetched from now on. */
export interface ProbeEvent {
  count: number;
  evaluated: number;
  validation_size: number;
}

export interface StatusEvent {
  status: RunStatus;
  error: string | null;
}

export type BatchRow = [number, number, number, number];

export interface ProgressEvent extends Progress {
  batches: BatchRow[];
}

export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type?: string;
}
