// FindMe web app: attendees (phone first) and organisers (desktop first), one small bundle.
// Preact (4 KB) renders; the organiser's pages load on demand.
import { render } from "preact";
import type { FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { clearSession, loadConfig, loadSession, type Session } from "./api";
import { Invite, MyPhotos } from "./attendee";
import { navigate, onLinkClick, usePath } from "./router";
import { Page, Spinner } from "./ui";
import "./styles.css";

type OrganiserProps = Parameters<typeof import("./organiser/organiser").default>[0];
let organiser: FunctionComponent<OrganiserProps> | null = null;

/** The organiser's pages, loaded on first use (attendees on phones never download them). */
function Organiser(props: OrganiserProps) {
  const [, loaded] = useState(0);
  useEffect(() => {
    if (!organiser) void import("./organiser/organiser").then((m) => { organiser = m.default; loaded(1); });
  }, []);
  const Loaded = organiser;
  return Loaded ? <Loaded {...props} /> : <Spinner label="Loading…" />;
}

function App() {
  const path = usePath();
  const [session, setSession] = useState<Session | null>(loadSession());
  useEffect(() => {
    const out = () => setSession(null);
    window.addEventListener("findme:signed-out", out);
    return () => window.removeEventListener("findme:signed-out", out);
  }, []);

  const signOut = () => {
    clearSession();
    setSession(null);
    navigate("/");
  };
  const actions = session ? (
    <>
      <a href="/me">My photos</a>
      <a href="/o">Organise</a>
      <button type="button" class="link" onClick={signOut}>
        Sign out
      </button>
    </>
  ) : null;

  const invite = /^\/e\/([^/]+)\/?$/.exec(path);
  if (invite) {
    return <Invite code={decodeURIComponent(invite[1])} session={session} onSession={setSession} actions={actions} />;
  }
  if (path === "/me") return <MyPhotos session={session} actions={actions} />;
  if (path === "/o" || path.startsWith("/o/")) {
    return (
      <Organiser path={path} session={session} onSession={setSession} actions={actions} />
    );
  }
  return (
    <Page title="Your event photos, found by a selfie" actions={actions}>
      <p>
        At an event? Open the invite link or scan the QR code the organiser shared, sign in with your phone
        and take a selfie: FindMe shows every photo you are in.
      </p>
      <div class="row">
        <a class="button" href="/me">My photos</a>
        <a class="button secondary" href="/o">I organise an event</a>
      </div>
    </Page>
  );
}

function Root() {
  return (
    <div onClick={onLinkClick}>
      <a class="skip" href="#main">Skip to content</a>
      <App />
    </div>
  );
}

void loadConfig().then(() => render(<Root />, document.getElementById("app")!));

if ("serviceWorker" in navigator && import.meta.env.PROD) {
  void navigator.serviceWorker.register("/sw.js").catch(() => undefined);
}
