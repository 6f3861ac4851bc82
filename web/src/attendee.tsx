// Attendees: the invite link (/e/{code}) and "My photos" (/me).
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiFailure, clearSession, message, ok, postForm, type Photo, type Schemas, type Session } from "./api";
import { Lightbox, VirtualGrid } from "./photos";
import { navigate } from "./router";
import { Selfie, SELFIE_ADVICE } from "./selfie";
import { SignIn } from "./signin";
import { Alert, Page, Spinner, usePoll } from "./ui";

const LAST_GROUP = "findme.group";

export function Invite(props: { code: string; session: Session | null; onSession: (s: Session) => void; actions: ComponentChildren }) {
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!props.session) return;
    (async () => {
      try {
        const joined = ok(await api.POST("/join", { body: { invite_code: props.code } }));
        localStorage.setItem(LAST_GROUP, joined.group_id);
        // A crew's link (photographer code) leads to the event's organiser page, to upload.
        const crew = joined.role === "photographer" || joined.role === "owner";
        const gid = encodeURIComponent(joined.group_id);
        navigate(crew ? `/o/events/${gid}?tab=upload` : `/me?group=${gid}`, true);
      } catch (e) {
        setError(e instanceof ApiFailure && e.error.code === "invalid_invite_code"
          ? "This invite link is not valid. Ask the organiser for a new one."
          : message(e));
      }
    })();
  }, [props.session, props.code]);

  return (
    <Page title="Find your photos" actions={props.actions}>
      {error && <Alert>{error}</Alert>}
      {!props.session ? (
        <>
          <p>You were invited to an event. Sign in with your phone, take a selfie, and see every photo you are in.</p>
          <SignIn onSignedIn={props.onSession} purpose="to sign you in" />
        </>
      ) : (
        !error && <Spinner label="Joining the event…" />
      )}
    </Page>
  );
}

type Zip = { state: "idle" } | { state: "working"; jobId: string; done: number; total: number } | { state: "ready"; url: string } | { state: "failed"; detail: string };

export function MyPhotos(props: { session: Session | null; actions: ComponentChildren }) {
  const params = new URLSearchParams(location.search);
  const [groupId, setGroupId] = useState<string | null>(params.get("group") ?? localStorage.getItem(LAST_GROUP));
  const [groups, setGroups] = useState<Schemas["GroupOut"][] | null>(null);
  const [photos, setPhotos] = useState<Schemas["GetOut"] | null>(null);
  const [candidates, setCandidates] = useState<Schemas["CandidateOut"][]>([]);
  const [error, setError] = useState<string | null>(null);
  const [selecting, setSelecting] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [open, setOpen] = useState<{ list: "mine" | "common"; index: number } | null>(null);
  const [zip, setZip] = useState<Zip>({ state: "idle" });
  const [reload, setReload] = useState(0);

  useEffect(() => {
    if (!props.session) return;
    (async () => {
      try {
        const list = ok(await api.GET("/groups")).groups;
        setGroups(list);
        if (!groupId || !list.some((g) => g.group_id === groupId)) setGroupId(list[0]?.group_id ?? null);
      } catch (e) {
        setError(message(e));
      }
    })();
  }, [props.session]);

  useEffect(() => {
    if (!props.session || !groupId) return;
    setPhotos(null);
    (async () => {
      try {
        const [mine, maybe] = await Promise.all([
          api.GET("/get", { params: { query: { group_id: groupId } } }),
          api.GET("/users/me/candidates", { params: { query: { group_id: groupId } } }),
        ]);
        setPhotos(ok(mine));
        setCandidates(maybe.data?.items ?? []);
      } catch (e) {
        setError(message(e));
      }
    })();
  }, [props.session, groupId, reload]);

  usePoll(
    async () => {
      if (zip.state !== "working") return true;
      const status = ok(await api.GET("/download/{job_id}", { params: { path: { job_id: zip.jobId } } }));
      if (status.status === "ready" && status.url) {
        setZip({ state: "ready", url: status.url });
        return true;
      }
      if (status.status === "failed") {
        setZip({ state: "failed", detail: status.error ?? "The ZIP could not be made." });
        return true;
      }
      setZip({ state: "working", jobId: zip.jobId, done: status.done, total: status.total });
    },
    1500,
    zip.state === "working",
    [zip.state === "working" ? zip.jobId : ""],
  );

  if (!props.session) {
    return (
      <Page title="My photos" actions={props.actions}>
        <p>Sign in to see your photos. New here? Open the invite link or QR code of your event.</p>
        <SignIn onSignedIn={() => location.reload()} purpose="to sign you in" />
      </Page>
    );
  }

  const mine = photos?.personal_images ?? [];
  const common = photos?.common_images ?? [];
  const group = groups?.find((g) => g.group_id === groupId);
  const allIds = [...new Set([...mine, ...common].map((p) => p.image_id))]; // a group shot can be both

  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  const download = async () => {
    const ids = selected.size ? [...selected] : allIds;
    setZip({ state: "working", jobId: "", done: 0, total: ids.length });
    try {
      const job = ok(await api.POST("/download", { body: { image_ids: ids } }));
      setZip({ state: "working", jobId: job.job_id, done: 0, total: ids.length });
    } catch (e) {
      setZip({ state: "failed", detail: message(e) });
    }
  };

  const answer = async (personId: string, isMe: boolean) => {
    try {
      ok(await api.POST("/users/me/candidates/{person_id}", { params: { path: { person_id: personId } }, body: { is_me: isMe } }));
      setCandidates(candidates.filter((c) => c.person_id !== personId));
      if (isMe) setReload(reload + 1);
    } catch (e) {
      setError(message(e));
    }
  };

  const grid = (list: Photo[], which: "mine" | "common", label: string) => (
    <VirtualGrid
      items={list}
      label={label}
      tile={(photo, index) => (
        <button
          type="button"
          class="tile"
          aria-pressed={selecting ? selected.has(photo.image_id) : undefined}
          aria-label={selecting ? `Select photo ${index + 1}` : `Open photo ${index + 1}`}
          onClick={() => (selecting ? toggle(photo.image_id) : setOpen({ list: which, index }))}
        >
          <img src={photo.thumbnail_url ?? photo.url} alt="" loading="lazy" decoding="async" />
          {selecting && <span class="check" aria-hidden="true">{selected.has(photo.image_id) ? "✓" : ""}</span>}
        </button>
      )}
    />
  );

  const lightboxList = open ? (open.list === "mine" ? mine : common) : [];
  return (
    <Page title={group ? `My photos · ${group.group_name}` : "My photos"} actions={props.actions}>
      {error && <Alert>{error}</Alert>}
      {groups && groups.length > 1 && (
        <>
          <label for="event">Event</label>
          <select id="event" value={groupId ?? ""} onChange={(e) => { setGroupId(e.currentTarget.value); setSelected(new Set()); }}>
            {groups.map((g) => (
              <option value={g.group_id} key={g.group_id}>{g.group_name}</option>
            ))}
          </select>
        </>
      )}
      {groups && groups.length === 0 && <Alert kind="info">You have not joined an event yet. Open your event's invite link.</Alert>}
      {candidates.length > 0 && (
        <section aria-labelledby="maybe" class="card">
          <h2 id="maybe">Is this you?</h2>
          <ul class="persons">
            {candidates.map((c) => (
              <li class="person" key={c.person_id}>
                {c.thumbnail_url && <img class="face" src={c.thumbnail_url} alt="A face that may be yours" />}
                <div class="row">
                  <button type="button" onClick={() => answer(c.person_id, true)}>Yes, me</button>
                  <button type="button" class="secondary" onClick={() => answer(c.person_id, false)}>Not me</button>
                </div>
              </li>
            ))}
          </ul>
        </section>
      )}
      {!photos && groupId && <Spinner label="Finding your photos…" />}
      {photos && (
        <>
          <h2 id="mine">Photos of you ({mine.length})</h2>
          {mine.length === 0 && <p>No photos of you yet. Photos appear here as the organiser uploads them.</p>}
          {grid(mine, "mine", "Photos of you")}
          {common.length > 0 && (
            <>
              <h2 id="common">Everyone's photos ({common.length})</h2>
              {grid(common, "common", "Everyone's photos")}
            </>
          )}
          {allIds.length > 0 && (
            <div class="selectbar" role="region" aria-label="Selection and download">
              <button type="button" class="secondary" onClick={() => { setSelecting(!selecting); setSelected(new Set()); }}>
                {selecting ? "Done selecting" : "Select"}
              </button>
              {selecting && (
                <button type="button" class="secondary" onClick={() => setSelected(new Set(allIds))}>
                  Select all
                </button>
              )}
              <button type="button" onClick={download} disabled={zip.state === "working"}>
                {selected.size ? `Download ${selected.size} as ZIP` : `Download all ${allIds.length} as ZIP`}
              </button>
              <span role="status" aria-live="polite">
                {zip.state === "working" && `Preparing your ZIP… ${zip.done}/${zip.total}`}
                {zip.state === "ready" && (
                  <a href={zip.url} download class="button secondary">Save the ZIP</a>
                )}
                {zip.state === "failed" && zip.detail}
              </span>
            </div>
          )}
        </>
      )}
      {open && (
        <Lightbox
          photos={lightboxList.map((p) => ({ id: p.image_id, preview: p.preview_url ?? p.url, original: p.url }))}
          index={open.index}
          onIndex={(index) => setOpen({ ...open, index })}
          onClose={() => setOpen(null)}
        />
      )}
      <AccountTools onChanged={() => setReload(reload + 1)} />
    </Page>
  );
}

function AccountTools(props: { onChanged: () => void }) {
  const [selfie, setSelfie] = useState<Blob | null>(null);
  const [note, setNote] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  const addSelfie = async (event: Event) => {
    event.preventDefault();
    if (!selfie) return;
    setBusy(true);
    try {
      const form = new FormData();
      form.set("selfie", selfie, "selfie.jpg");
      await postForm("/users/me/selfies", form);
      setNote({ kind: "ok", text: "Selfie added. Your photos are searched again with it." });
      props.onChanged();
    } catch (e) {
      const reason = e instanceof ApiFailure ? e.error.reason : undefined;
      setNote({ kind: "error", text: (reason && SELFIE_ADVICE[reason]) || message(e) });
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    setBusy(true);
    try {
      ok(await api.DELETE("/users/me"));
      clearSession();
      localStorage.removeItem(LAST_GROUP);
      navigate("/");
    } catch (e) {
      setNote({ kind: "error", text: message(e) });
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="account" class="stack">
      <h2 id="account">Your account</h2>
      {note && <Alert kind={note.kind}>{note.text}</Alert>}
      <details class="card">
        <summary>Add another selfie (finds more of your photos)</summary>
        <form onSubmit={addSelfie} class="stack">
          <Selfie onPicked={setSelfie} idPrefix="more" />
          <button type="submit" disabled={busy || !selfie}>Add this selfie</button>
        </form>
      </details>
      {!confirming ? (
        <button type="button" class="secondary" onClick={() => setConfirming(true)}>
          Delete my account and data
        </button>
      ) : (
        <div class="card" role="alertdialog" aria-labelledby="confirm-delete">
          <p id="confirm-delete">
            This deletes your account, your selfies and their face data. Event photos stay with the event.
          </p>
          <div class="row">
            <button type="button" class="danger" onClick={remove} disabled={busy}>Yes, delete everything</button>
            <button type="button" class="secondary" onClick={() => setConfirming(false)}>Cancel</button>
          </div>
        </div>
      )}
    </section>
  );
}
