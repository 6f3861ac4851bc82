// The photo grid (virtualised: only the rows on screen are in the DOM, so 2,000 photos scroll
// as smoothly as 20) and the full-screen lightbox with swipe and arrow keys.
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

const GAP = 4;
const OVERSCAN_ROWS = 3;

export function VirtualGrid<T>(props: {
  items: T[];
  minTile?: number;
  label: string;
  tile: (item: T, index: number) => ComponentChildren;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ width: 0, top: 0, scroll: 0, height: 800 });
  const minTile = props.minTile ?? 96; // three columns on a 360 px phone

  useLayoutEffect(() => {
    const measure = () => {
      const el = box.current;
      if (!el) return;
      setView({
        width: el.clientWidth,
        top: el.getBoundingClientRect().top + window.scrollY,
        scroll: window.scrollY,
        height: window.innerHeight,
      });
    };
    measure();
    let frame = 0;
    const onScroll = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(measure);
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    window.addEventListener("resize", onScroll);
    const observer = new ResizeObserver(onScroll);
    if (box.current) observer.observe(box.current);
    return () => {
      window.removeEventListener("scroll", onScroll);
      window.removeEventListener("resize", onScroll);
      observer.disconnect();
      cancelAnimationFrame(frame);
    };
  }, []);

  const width = Math.max(view.width, minTile);
  const cols = Math.max(2, Math.floor((width + GAP) / (minTile + GAP)));
  const tile = (width - GAP * (cols - 1)) / cols;
  const rowHeight = tile + GAP;
  const rows = Math.ceil(props.items.length / cols);
  const first = Math.max(0, Math.floor((view.scroll - view.top) / rowHeight) - OVERSCAN_ROWS);
  const last = Math.min(rows - 1, Math.ceil((view.scroll + view.height - view.top) / rowHeight) + OVERSCAN_ROWS);
  const rendered = [];
  for (let r = first; r <= last; r++) {
    const start = r * cols;
    rendered.push(
      <div
        key={r}
        class="grid-row"
        role="row"
        style={{ top: `${r * rowHeight}px`, gridTemplateColumns: `repeat(${cols}, 1fr)`, height: `${tile}px` }}
      >
        {props.items.slice(start, start + cols).map((item, i) => (
          <div role="gridcell" key={start + i}>
            {props.tile(item, start + i)}
          </div>
        ))}
      </div>,
    );
  }
  return (
    <div
      ref={box}
      class="grid-window"
      role="grid"
      aria-label={props.label}
      aria-rowcount={rows}
      style={{ height: `${Math.max(0, rows * rowHeight - GAP)}px` }}
    >
      {rendered}
    </div>
  );
}

export interface LightboxPhoto {
  id: string;
  preview: string;
  original: string;
}

export function Lightbox(props: {
  photos: LightboxPhoto[];
  index: number;
  onIndex: (index: number) => void;
  onClose: () => void;
}) {
  const close = useRef<HTMLButtonElement>(null);
  const start = useRef<{ x: number; y: number } | null>(null);
  const { photos, index } = props;
  const photo = photos[index];
  const go = (delta: number) => {
    const next = index + delta;
    if (next >= 0 && next < photos.length) props.onIndex(next);
  };

  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    close.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") props.onClose();
      else if (e.key === "ArrowRight") go(1);
      else if (e.key === "ArrowLeft") go(-1);
    };
    document.addEventListener("keydown", onKey);
    document.body.style.overflow = "hidden";
    return () => {
      document.removeEventListener("keydown", onKey);
      document.body.style.overflow = "";
      opener?.focus();
    };
  }, [index]);

  useEffect(() => {
    const next = photos[index + 1];
    if (next) new Image().src = next.preview; // the next swipe shows at once
  }, [index]);

  if (!photo) return null;
  return (
    <div
      class="lightbox"
      role="dialog"
      aria-modal="true"
      aria-label={`Photo ${index + 1} of ${photos.length}`}
      onPointerDown={(e) => (start.current = { x: e.clientX, y: e.clientY })}
      onPointerUp={(e) => {
        const s = start.current;
        start.current = null;
        if (!s) return;
        const dx = e.clientX - s.x;
        if (Math.abs(dx) > 50 && Math.abs(dx) > Math.abs(e.clientY - s.y)) go(dx < 0 ? 1 : -1);
      }}
    >
      <div class="controls">
        <button ref={close} type="button" onClick={props.onClose}>
          Close
        </button>
        <span class="count" aria-live="polite">
          {index + 1} / {photos.length}
        </span>
        <a class="button" href={photo.original} target="_blank" rel="noopener">
          Original
        </a>
      </div>
      <div class="stage">
        <img src={photo.preview} alt={`Photo ${index + 1}`} draggable={false} />
      </div>
      <div class="controls">
        <button type="button" onClick={() => go(-1)} disabled={index === 0}>
          ‹ Previous
        </button>
        <button type="button" onClick={() => go(1)} disabled={index === photos.length - 1}>
          Next ›
        </button>
      </div>
    </div>
  );
}
