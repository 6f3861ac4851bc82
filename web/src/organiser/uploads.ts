// The upload queue: presigned POSTs straight to S3, a few at a time, with progress, retries
// and a resume list that outlives the tab.
import { api, ok, type Schemas } from "../api";

export const CONCURRENCY = 5; // 4-6 parallel uploads keep a venue's uplink busy without stalls
const SIGN_BATCH = 20; // presigned POSTs asked for at once (one API call per 20 photos)
const AUTO_RETRIES = 2; // then the file waits for "Retry failed"
const ACCEPTED = /^image\/(jpeg|png|webp|gif|heic|heif)$/;

export type UploadState = "queued" | "uploading" | "done" | "failed";

export interface UploadItem {
  id: number;
  file: File;
  state: UploadState;
  loaded: number;
  attempts: number;
  error?: string;
  post?: Schemas["PresignedUpload"];
}

interface ResumeEntry {
  name: string;
  size: number;
  lastModified: number;
}

const fileKey = (f: ResumeEntry) => `${f.name}|${f.size}|${f.lastModified}`;

/** What a closed tab left behind: files not uploaded yet, and keys of those that were. */
export class ResumeList {
  constructor(private readonly groupId: string) {}
  private get key() {
    return `findme.uploads.${this.groupId}`;
  }
  read(): { pending: ResumeEntry[]; done: string[] } {
    try {
      const value = JSON.parse(localStorage.getItem(this.key) ?? "null");
      return value ?? { pending: [], done: [] };
    } catch {
      return { pending: [], done: [] };
    }
  }
  write(items: UploadItem[]): void {
    const old = this.read();
    const done = new Set(old.done);
    const pending = new Map(old.pending.map((p) => [fileKey(p), p]));
    for (const item of items) {
      const entry = { name: item.file.name, size: item.file.size, lastModified: item.file.lastModified };
      if (item.state === "done") {
        done.add(fileKey(entry));
        pending.delete(fileKey(entry));
      } else pending.set(fileKey(entry), entry);
    }
    localStorage.setItem(this.key, JSON.stringify({ pending: [...pending.values()], done: [...done].slice(-5000) }));
  }
  isDone(file: File): boolean {
    return this.read().done.includes(fileKey(file));
  }
  forget(): void {
    const { done } = this.read();
    localStorage.setItem(this.key, JSON.stringify({ pending: [], done }));
  }
}

export class Uploader {
  items: UploadItem[] = [];
  private nextId = 1;
  private running = 0;
  private signing: Promise<void> | null = null;
  readonly resume: ResumeList;

  constructor(
    private readonly groupId: string,
    private readonly onChange: () => void,
    private readonly sectionId: () => string | null,
  ) {
    this.resume = new ResumeList(groupId);
  }

  /** Queue photos; returns how many were skipped (not photos, or uploaded in an earlier tab). */
  add(files: File[]): { skipped: number } {
    let skipped = 0;
    for (const file of files) {
      const queued = this.items.some((i) => i.state !== "failed" && fileKey(i.file) === fileKey(file));
      if (!ACCEPTED.test(file.type) || queued || this.resume.isDone(file)) {
        skipped++;
        continue;
      }
      this.items.push({ id: this.nextId++, file, state: "queued", loaded: 0, attempts: 0 });
    }
    this.resume.write(this.items);
    this.pump();
    this.onChange();
    return { skipped };
  }

  retryFailed(): void {
    for (const item of this.items) {
      if (item.state === "failed") Object.assign(item, { state: "queued", attempts: 0, error: undefined, post: undefined });
    }
    this.pump();
    this.onChange();
  }

  get active(): boolean {
    return this.items.some((i) => i.state === "queued" || i.state === "uploading");
  }

  totals(): { bytes: number; loaded: number; done: number; failed: number; count: number } {
    let bytes = 0;
    let loaded = 0;
    let done = 0;
    let failed = 0;
    for (const item of this.items) {
      bytes += item.file.size;
      loaded += item.state === "done" ? item.file.size : item.loaded;
      if (item.state === "done") done++;
      if (item.state === "failed") failed++;
    }
    return { bytes, loaded, done, failed, count: this.items.length };
  }

  private pump(): void {
    while (this.running < CONCURRENCY) {
      const item = this.items.find((i) => i.state === "queued");
      if (!item) return;
      item.state = "uploading";
      this.running++;
      void this.upload(item).finally(() => {
        this.running--;
        this.resume.write([item]);
        this.onChange();
        this.pump();
      });
    }
  }

  private async upload(item: UploadItem): Promise<void> {
    for (;;) {
      item.attempts++;
      item.loaded = 0;
      try {
        if (!item.post || Date.parse(item.post.expires) < Date.now() + 30_000) await this.sign(item);
        await this.send(item);
        item.state = "done";
        item.error = undefined;
        return;
      } catch (e) {
        item.post = undefined; // a refused or expired form is never sent twice
        item.error = e instanceof Error ? e.message : String(e);
        if (item.attempts > AUTO_RETRIES) {
          item.state = "failed";
          return;
        }
        this.onChange();
        await new Promise((r) => setTimeout(r, 1000 * 2 ** (item.attempts - 1)));
      }
    }
  }

  /** Presigned POSTs for this item and the next queued ones, in one API call. */
  private async sign(item: UploadItem): Promise<void> {
    while (this.signing) await this.signing;
    if (item.post) return;
    const batch = [item, ...this.items.filter((i) => i !== item && i.state === "queued" && !i.post)].slice(0, SIGN_BATCH);
    this.signing = (async () => {
      const result = ok(
        await api.POST("/groups/{group_id}/uploads", {
          params: { path: { group_id: this.groupId } },
          body: {
            files: batch.map((i) => ({ file_name: i.file.name, content_type: i.file.type, size_bytes: i.file.size })),
            section_id: this.sectionId(),
          },
        }),
      );
      result.uploads.forEach((post, n) => (batch[n].post = post));
    })();
    try {
      await this.signing;
    } finally {
      this.signing = null;
    }
  }

  private send(item: UploadItem): Promise<void> {
    const post = item.post!;
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
      form.append("file", item.file); // S3 wants the file last
      const xhr = new XMLHttpRequest();
      xhr.open("POST", post.url);
      xhr.upload.onprogress = (e) => {
        item.loaded = e.loaded * (item.file.size / Math.max(e.total, 1));
        this.onChange();
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else {
          const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText)?.[1];
          reject(new Error(`Storage refused the photo (${xhr.status}${code ? ` ${code}` : ""})`));
        }
      };
      xhr.onerror = () => reject(new Error("Network error"));
      xhr.ontimeout = () => reject(new Error("Timed out"));
      xhr.timeout = 300_000;
      xhr.send(form);
    });
  }
}
