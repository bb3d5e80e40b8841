/**
 * The few fields of the Engine API answers that breachkit reads, validated loosely: engines
 * from 20.10 (API 1.41) to 29 (API 1.44+) add, drop and null out fields, so every field that is
 * not the object's identity is optional and unknown fields are kept as they came.
 */
import { z } from "../../util/zod.js";

const optString = z.string().nullish();

export const EngineVersionSchema = z.looseObject({
  Version: z.string(),
  ApiVersion: z.string(),
  MinAPIVersion: optString,
  Os: optString,
  Arch: optString,
  KernelVersion: optString,
});
export type EngineVersion = z.infer<typeof EngineVersionSchema>;

export const EngineInfoSchema = z.looseObject({
  ID: optString,
  Name: optString,
  ServerVersion: optString,
  Driver: optString,
  DockerRootDir: optString,
  CgroupDriver: optString,
  CgroupVersion: optString,
  Containers: z.number().nullish(),
  /** Engine 29: the containerd image store shows as a driver-status entry, not in Driver. */
  DriverStatus: z.array(z.array(z.string())).nullish(),
});
export type EngineInfo = z.infer<typeof EngineInfoSchema>;

export const ContainerSummarySchema = z.looseObject({
  Id: z.string(),
  Names: z.array(z.string()).nullish(),
  Image: optString,
  ImageID: optString,
  Command: optString,
  Created: z.number().nullish(),
  State: optString,
  Status: optString,
  Labels: z.record(z.string(), z.string()).nullish(),
});
export type ContainerSummary = z.infer<typeof ContainerSummarySchema>;

/** A raw inspect answer: kept whole (it goes into evidence), checked only for its identity. */
export const ContainerInspectSchema = z.looseObject({ Id: z.string() });
export type ContainerInspect = z.infer<typeof ContainerInspectSchema>;

export const FILE_CHANGE_KINDS = ["modified", "added", "deleted"] as const;
export type FileChangeKind = (typeof FILE_CHANGE_KINDS)[number] | "unknown";

export interface FileChange {
  /** As the engine reports it: attacker-chosen bytes (newlines, escapes) decoded as UTF-8. */
  path: string;
  kind: FileChangeKind;
}

// The engine answers `null`, not [], for a container without changes.
export const ChangesSchema = z
  .array(z.object({ Path: z.string(), Kind: z.number().int() }))
  .nullable()
  .transform((list): FileChange[] =>
    (list ?? []).map((c) => ({ path: c.Path, kind: FILE_CHANGE_KINDS[c.Kind] ?? "unknown" })),
  );

export const ContainerTopSchema = z.object({
  Titles: z.array(z.string()),
  Processes: z.array(z.array(z.string())).nullish(),
});
export type ContainerTop = { titles: string[]; processes: string[][] };

export const NetworkSummarySchema = z.looseObject({
  Id: z.string(),
  Name: z.string(),
  Driver: optString,
  Scope: optString,
});
export type NetworkSummary = z.infer<typeof NetworkSummarySchema>;

export const UpdateResponseSchema = z.looseObject({ Warnings: z.array(z.string()).nullish() });

/** An image's inspect, loosely: what update reads (digests, tags, age, default configuration). */
export const ImageInspectSchema = z.looseObject({
  Id: z.string(),
  RepoTags: z.array(z.string()).nullish(),
  RepoDigests: z.array(z.string()).nullish(),
  Created: optString,
  Config: z.looseObject({}).nullish(),
});
export type ImageInspect = z.infer<typeof ImageInspectSchema>;

/** POST /containers/create. */
export const CreateResponseSchema = z.looseObject({
  Id: z.string(),
  Warnings: z.array(z.string()).nullish(),
});
