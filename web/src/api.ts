// The typed API client (openapi-fetch over the types generated from `findme openapi`),
// the session token, and the one way errors are read.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./api/schema";

export type Schemas = components["schemas"];
export type Photo = Schemas["PhotoOut"];
export type ImageItem = Schemas["ImageOut"];
export type Group = Schemas["GroupOut"];
export type Person = Schemas["PersonOut"];
export type Face = Schemas["FaceOut"];

const TOKEN_KEY = "findme.session";

export interface Session {
  token: string;
  userId: string;
  expiresAt: number; // epoch ms
}

export function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(TOKEN_KEY);
    const session = raw ? (JSON.parse(raw) as Session) : null;
    return session && session.expiresAt > Date.now() ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(token: string, userId: string, expiresIn: number): Session {
  const session = { token, userId, expiresAt: Date.now() + expiresIn * 1000 };
  localStorage.setItem(TOKEN_KEY, JSON.stringify(session));
  return session;
}

export function clearSession(): void {
  localStorage.removeItem(TOKEN_KEY);
}

// Same origin under `make run`; CloudFront deploys write /config.json ({"apiUrl"}); Vite's dev
// server reads VITE_API_URL.
let baseUrl: string = import.meta.env.VITE_API_URL ?? "";

export async function loadConfig(): Promise<void> {
  if (baseUrl) return;
  try {
    const response = await fetch("/config.json", { cache: "no-cache" });
    if (response.ok && (response.headers.get("content-type") ?? "").includes("json")) {
      const config = (await response.json()) as { apiUrl?: string };
      baseUrl = (config.apiUrl ?? "").replace(/\/$/, "");
    }
  } catch {
    // no config: the API is on this origin
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const session = loadSession();
    if (session && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${session.token}`);
    }
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && loadSession()) {
      clearSession();
      window.dispatchEvent(new Event("findme:signed-out"));
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "", fetch: (request) => fetch(withBase(request)) });
api.use(auth);

function withBase(request: Request): Request {
  if (!baseUrl) return request;
  const url = new URL(request.url);
  return new Request(baseUrl + url.pathname + url.search, request);
}

/** The API's error shape: `{"detail", "code", ...}` (plus e.g. `reason` on selfie checks). */
export interface ApiError {
  detail: string;
  code: string;
  reason?: string;
  status: number;
}

export class ApiFailure extends Error {
  constructor(readonly error: ApiError) {
    super(error.detail);
  }
}

/** The data of an openapi-fetch result, or throws an {@link ApiFailure}. */
export function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    const body = (result.error ?? {}) as Partial<ApiError>;
    const detail =
      typeof body.detail === "string" ? body.detail : `Request failed (${result.response.status})`;
    throw new ApiFailure({
      detail,
      code: body.code ?? "error",
      reason: body.reason,
      status: result.response.status,
    });
  }
  return result.data;
}

/** Multipart POSTs (register, selfies) go through fetch: openapi-fetch sends JSON bodies. */
export async function postForm<T>(path: string, form: FormData): Promise<T> {
  const session = loadSession();
  const response = await fetch(baseUrl + path, {
    method: "POST",
    body: form,
    headers: session ? { Authorization: `Bearer ${session.token}` } : {},
  });
  const body = (await response.json().catch(() => ({}))) as T & Partial<ApiError>;
  if (!response.ok) {
    throw new ApiFailure({
      detail: body.detail ?? `Request failed (${response.status})`,
      code: body.code ?? "error",
      reason: body.reason,
      status: response.status,
    });
  }
  return body;
}

export function message(error: unknown): string {
  if (error instanceof ApiFailure) return error.error.detail;
  return error instanceof Error ? error.message : String(error);
}
