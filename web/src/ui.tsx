// Small shared pieces: page frame, alerts, progress, a polling hook.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

export function Page(props: { title: string; children: ComponentChildren; wide?: boolean; actions?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · FindMe`;
  }, [props.title]);
  return (
    <>
      <header class="bar">
        <a href="/" class="brand" aria-label="FindMe home">
          <img src="/icon.svg" alt="" width="28" height="28" /> FindMe
        </a>
        <nav aria-label="Account">{props.actions}</nav>
      </header>
      <main id="main" class={props.wide ? "wide" : "narrow"}>
        <h1>{props.title}</h1>
        {props.children}
      </main>
    </>
  );
}

export function Alert(props: { kind?: "error" | "info" | "ok"; children: ComponentChildren }) {
  const kind = props.kind ?? "error";
  return (
    <div class={`alert ${kind}`} role={kind === "error" ? "alert" : "status"}>
      {props.children}
    </div>
  );
}

export function Progress(props: { value: number; max: number; label: string }) {
  const pct = props.max > 0 ? Math.round((100 * props.value) / props.max) : 0;
  return (
    <div class="progress">
      <progress value={props.value} max={Math.max(props.max, 1)} aria-label={props.label} />
      <span aria-hidden="true">{pct} %</span>
    </div>
  );
}

export function Spinner(props: { label: string }) {
  return (
    <p class="spinner" role="status">
      <span class="dot" aria-hidden="true" /> {props.label}
    </p>
  );
}

/** Calls `tick` every `ms` while `active`; stops when it returns true. */
export function usePoll(tick: () => Promise<boolean | void>, ms: number, active: boolean, deps: unknown[] = []): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (!active) return;
    let stopped = false;
    let timer = 0;
    const run = async () => {
      let done = false;
      try {
        done = (await saved.current()) === true;
      } catch {
        // keep polling through transient errors
      }
      if (!stopped && !done) timer = window.setTimeout(run, ms);
    };
    run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [active, ms, ...deps]);
}
