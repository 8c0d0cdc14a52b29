import { postForm } from "./client";
import type { DatasetInfo, Run } from "./types";

/** An uploaded image (POST /api/uploads/images): look at it with `{ upload: id }`. */
export interface UploadedImage {
  id: string;
  width: number;
  height: number;
}

function form(fields: Record<string, string | Blob | null | undefined>): FormData {
  const data = new FormData();
  for (const [key, value] of Object.entries(fields)) {
    if (value !== null && value !== undefined && value !== "") data.append(key, value);
  }
  return data;
}

/** Uploads a PNG or JPEG. */
export function uploadImage(file: File): Promise<UploadedImage> {
  return postForm<UploadedImage>("/api/uploads/images", form({ file }));
}

/** Adds a dataset from a zip of class folders. */
export function uploadDataset(
  file: File,
  name: string,
  options: { imageSize?: number; grayscale?: boolean } = {},
): Promise<DatasetInfo> {
  return postForm<DatasetInfo>(
    "/api/datasets",
    form({
      file,
      name,
      image_size: options.imageSize ? String(options.imageSize) : null,
      grayscale: options.grayscale ? "true" : null,
    }),
  );
}

/** Imports a `.keras` model as a run of one snapshot. */
export function importModel(
  file: File,
  options: { classNames?: string; pixelScale?: number; probeDataset?: string } = {},
): Promise<Run> {
  return postForm<Run>(
    "/api/models",
    form({
      file,
      class_names: options.classNames,
      probe_dataset: options.probeDataset,
      pixel_scale: options.pixelScale ? String(options.pixelScale) : null,
    }),
  );
}
