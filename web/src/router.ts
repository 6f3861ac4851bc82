// A tiny history router: the app's pages are `/`, `/e/{invite}`, `/me`, `/o`, `/o/events/{id}`
// (the same list the API serves index.html for: findme/web/static.py APP_PATHS).
import { useEffect, useState } from "preact/hooks";

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  window.dispatchEvent(new Event("findme:navigate"));
  window.scrollTo(0, 0);
}

/** The current path; the component re-renders when the path or the query changes. */
export function usePath(): string {
  const [href, setHref] = useState(location.pathname + location.search);
  useEffect(() => {
    const update = () => setHref(location.pathname + location.search);
    window.addEventListener("popstate", update);
    window.addEventListener("findme:navigate", update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener("findme:navigate", update);
    };
  }, []);
  return href.split("?")[0];
}

/** Same-origin links navigate without a reload. */
export function onLinkClick(event: MouseEvent): void {
  const anchor = (event.target as HTMLElement).closest("a");
  if (
    !anchor ||
    anchor.target ||
    anchor.hasAttribute("download") ||
    (anchor.getAttribute("href") ?? "").startsWith("#") ||
    anchor.origin !== location.origin ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.button !== 0
  )
    return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}
