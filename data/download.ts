/**
 * Fetching dataset files over the network with web APIs only (`fetch`, streams), so the same code
 * serves Deno's downloads into the cache (`deno/locate.ts`) and the browser page. A transfer is
 * watched: no progress for `timeoutMs` abandons it.
 *
 * @module
 */
import { DataError } from "../errors.ts";
import { datasetFromBytes, type IdxFileBytes, type ImageDataset } from "./dataset.ts";
import type { IdxDatasetSpec, IdxFileSpec } from "./spec.ts";

/** Download progress of one file. */
export interface DownloadProgress {
  /** File name. */
  file: string;
  /** URL being fetched. */
  url: string;
  /** Bytes received so far. */
  received: number;
  /** Total bytes when the server said (Content-Length), else undefined. */
  total?: number;
}

/** Milliseconds without progress after which a download from one mirror is abandoned. */
export const DOWNLOAD_TIMEOUT_MS = 30_000;

/** Most bytes a download may send when the file's size is not known. */
export const MAX_DOWNLOAD_BYTES = 2 ** 30;

/**
 * The most bytes a gzip of an IDX file of `spec` may take: its decompressed size and a margin
 * (gzip stores incompressible data with a few bytes per 32 KiB block).
 */
export function downloadLimit(spec: IdxFileSpec): number {
  return spec.bytes === undefined ? MAX_DOWNLOAD_BYTES : spec.bytes + (spec.bytes >> 10) + 2 ** 16;
}

/**
 * Fetches `url` whole, reporting progress, abandoning it after `timeoutMs` without any, and
 * refusing more than `maxBytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetchBytes } from "./download.ts";
 * // Nothing listens there: the error names the URL.
 * await assert.rejects(fetchBytes("http://127.0.0.1:59999/x.gz", "x.gz", () => {}), /127\.0\.0\.1:59999/);
 * ```
 */
export async function fetchBytes(
  url: string,
  file: string,
  onProgress: (p: DownloadProgress) => void,
  timeoutMs: number = DOWNLOAD_TIMEOUT_MS,
  maxBytes: number = MAX_DOWNLOAD_BYTES,
): Promise<Uint8Array> {
  // One watchdog for the whole transfer, re-armed by every sign of progress.
  const controller = new AbortController();
  let stalled = "no response";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), timeoutMs);
  };
  const timedOut = () =>
    new DataError(
      url,
      `${stalled} for ${timeoutMs / 1000} s: gave up (a network that does not answer?)`,
    );
  arm();
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal });
    } catch (e) {
      if (controller.signal.aborted) throw timedOut();
      throw new DataError(url, `cannot be fetched (${e instanceof Error ? e.message : String(e)})`);
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new DataError(url, `HTTP ${response.status} ${response.statusText}`.trim());
    }
    const length = Number(response.headers.get("content-length"));
    const total = Number.isFinite(length) && length > 0 ? length : undefined;
    const tooLarge = () =>
      new DataError(url, `sends more than the ${maxBytes} bytes ${file} may take: refused`);
    if (total !== undefined && total > maxBytes) {
      await response.body.cancel();
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let received = 0;
    stalled = "no data";
    arm();
    try {
      for await (const chunk of response.body) {
        arm();
        chunks.push(chunk);
        received += chunk.length;
        if (received > maxBytes) {
          controller.abort();
          throw tooLarge();
        }
        onProgress({ file, url, received, total });
      }
    } catch (e) {
      throw controller.signal.aborted ? timedOut() : e;
    }
    return join(chunks, received, total, url);
  } finally {
    clearTimeout(timer);
  }
}

function join(chunks: Uint8Array[], received: number, total: number | undefined, url: string) {
  if (total !== undefined && received !== total) {
    throw new DataError(url, `download ended after ${received} of ${total} bytes`);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
  return bytes;
}

/**
 * Fetches the four files of `spec` from `baseUrl` (a folder URL, e.g. the page's `./data/`) and
 * decodes them, verifying each; what a browser uses instead of the Deno loader's folder search.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetchIdxDataset } from "./download.ts";
 * import { FASHION_MNIST } from "./spec.ts";
 * await assert.rejects(fetchIdxDataset(FASHION_MNIST, "http://127.0.0.1:59999/data/"), /59999/);
 * ```
 */
export async function fetchIdxDataset(
  spec: IdxDatasetSpec,
  baseUrl: string,
  onProgress: (p: DownloadProgress) => void = () => {},
): Promise<ImageDataset> {
  const entries = await Promise.all(
    Object.entries(spec.files).map(async ([key, file]) => {
      const url = new URL(file.file, baseUrl).href;
      const bytes = await fetchBytes(url, file.file, onProgress, undefined, downloadLimit(file));
      return [key, [url, bytes]] as const;
    }),
  );
  return await datasetFromBytes(
    spec,
    Object.fromEntries(entries) as unknown as IdxFileBytes,
    baseUrl,
  );
}
