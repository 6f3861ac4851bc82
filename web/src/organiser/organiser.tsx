// Organisers (desktop first): events, invite link and QR code, uploads, processing, persons,
// review (quality, duplicates, outliers), sections, photos. Loaded on demand.
import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, message, ok, type Group, type ImageItem, type Schemas, type Session } from "../api";
import { Lightbox, VirtualGrid } from "../photos";
import { navigate } from "../router";
import { SignIn } from "../signin";
import { Alert, Page, Progress, Spinner, usePoll } from "../ui";
import { InviteLink } from "./invite";
import { Members } from "./members";
import { CONCURRENCY, Uploader } from "./uploads";
import { Persons, PersonPage } from "./persons";
import { Review } from "./review";

interface Props {
  path: string;
  session: Session | null;
  onSession: (s: Session) => void;
  actions: ComponentChildren;
}

export default function Organiser(props: Props) {
  if (!props.session) {
    return (
      <Page title="Organise an event" actions={props.actions}>
        <p>Sign in to create an event, upload its photos and tidy them.</p>
        <SignIn onSignedIn={props.onSession} purpose="to sign you in" />
      </Page>
    );
  }
  const person = /^\/o\/events\/([^/]+)\/persons\/([^/]+)$/.exec(props.path);
  if (person) return <PersonPage groupId={person[1]} personId={person[2]} actions={props.actions} />;
  const event = /^\/o\/events\/([^/]+)$/.exec(props.path);
  if (event) return <EventPage groupId={event[1]} actions={props.actions} />;
  return <Dashboard actions={props.actions} />;
}

function Dashboard(props: { actions: ComponentChildren }) {
  const [groups, setGroups] = useState<Group[] | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.GET("/groups").then((r) => setGroups(r.data?.groups ?? []), (e) => setError(message(e)));
  }, []);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const group = ok(await api.POST("/create-group", { body: { group_name: name.trim(), description: description.trim() } }));
      navigate(`/o/events/${group.group_id}`);
    } catch (e) {
      setError(message(e));
      setBusy(false);
    }
  };

  const mine = (groups ?? []).filter((g) => g.role === "owner" || g.role === "photographer");
  return (
    <Page title="Your events" wide actions={props.actions}>
      {error && <Alert>{error}</Alert>}
      <form onSubmit={create} class="card">
        <h2>Create an event</h2>
        <label for="event-name">Event name</label>
        <input id="event-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="event-description">Description (optional)</label>
        <input id="event-description" maxLength={2000} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        <p>
          <button type="submit" disabled={busy || !name.trim()}>
            Create the event
          </button>
        </p>
      </form>
      <h2>Events you organise</h2>
      {!groups && <Spinner label="Loading your events…" />}
      {groups && mine.length === 0 && <p>None yet.</p>}
      <ul class="events">
        {mine.map((g) => (
          <li key={g.group_id}>
            <a href={`/o/events/${g.group_id}`}>{g.group_name}</a>
            <span class="hint">
              {g.image_counts?.total ?? 0} photos · {g.role}
            </span>
          </li>
        ))}
      </ul>
    </Page>
  );
}

const TABS = ["overview", "upload", "photos", "persons", "review", "sections", "members"] as const;
type Tab = (typeof TABS)[number];
const TAB_NAMES: Record<Tab, string> = {
  overview: "Invite & progress",
  upload: "Upload",
  photos: "Photos",
  persons: "Persons",
  review: "Review",
  sections: "Sections",
  members: "Members",
};

function EventPage(props: { groupId: string; actions: ComponentChildren }) {
  const tab = (new URLSearchParams(location.search).get("tab") as Tab) || "overview";
  const [group, setGroup] = useState<Group | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sections, setSections] = useState<Schemas["SectionOut"][]>([]);
  const [, force] = useState(0);
  const [sectionId, setSectionId] = useState<string | null>(null);
  const sectionRef = useRef<string | null>(null);
  sectionRef.current = sectionId;
  const uploader = useMemo(() => new Uploader(props.groupId, () => force((n) => n + 1), () => sectionRef.current), [props.groupId]);

  // Photos this tab uploaded count as "arriving" until digest has created their items.
  const baseline = useRef<number | null>(null);
  const arriving = (g: Group | null) => {
    const total = g?.image_counts?.total ?? 0;
    return Math.max(0, (baseline.current ?? total) + uploader.totals().done - total);
  };
  const refresh = async () => {
    const g = ok(await api.GET("/groups/{group_id}", { params: { path: { group_id: props.groupId } } }));
    if (baseline.current === null) baseline.current = g.image_counts?.total ?? 0;
    setGroup(g);
    const c = g.image_counts;
    return !uploader.active && !!c && c.uploaded + c.processing === 0 && arriving(g) === 0;
  };
  const loadSections = () =>
    api.GET("/groups/{group_id}/sections", { params: { path: { group_id: props.groupId } } }).then((r) => setSections(r.data?.sections ?? []));

  useEffect(() => {
    refresh().catch((e) => setError(message(e)));
    void loadSections();
  }, [props.groupId]);
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => {
      if (uploader.active) e.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [uploader]);
  const uploading = uploader.active;
  useEffect(() => {
    void refresh().catch(() => undefined); // the last photo landed: counts move on at once
  }, [uploading]);
  const counts = group?.image_counts;
  const waiting = arriving(group);
  const busy = uploader.active || waiting > 0 || (!!counts && counts.uploaded + counts.processing > 0);
  usePoll(refresh, 2500, busy, [busy]);

  // Members and their roles are for owners and admins (role null: ADMINISTER); not photographers.
  const tabs = TABS.filter((t) => t !== "members" || (!!group && (group.role === "owner" || group.role === null)));
  const select = (t: Tab) => navigate(`/o/events/${props.groupId}?tab=${t}`, true);
  return (
    <Page title={group ? group.group_name : "Event"} wide actions={props.actions}>
      <p>
        <a href="/o">← All events</a>
      </p>
      {error && <Alert>{error}</Alert>}
      <div class="tabs" role="tablist" aria-label="Event">
        {tabs.map((t) => (
          <button key={t} role="tab" id={`tab-${t}`} aria-selected={t === tab} aria-controls="panel" onClick={() => select(t)} type="button">
            {TAB_NAMES[t]}
          </button>
        ))}
      </div>
      <section id="panel" role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {counts && <Counts counts={counts} arriving={waiting} />}
        {tab === "overview" && group && <InviteCard group={group} />}
        {tab === "upload" && (
          <UploadPanel uploader={uploader} sections={sections} sectionId={sectionId} onSection={setSectionId} />
        )}
        {tab === "photos" && group && <PhotosPanel group={group} onChanged={() => void refresh()} />}
        {tab === "persons" && <Persons groupId={props.groupId} />}
        {tab === "review" && <Review groupId={props.groupId} />}
        {tab === "sections" && <SectionsPanel groupId={props.groupId} sections={sections} onChanged={loadSections} />}
        {tab === "members" && group && <Members group={group} onGroup={setGroup} />}
      </section>
    </Page>
  );
}

function Counts(props: { counts: Schemas["ImageCounts"]; arriving: number }) {
  const c = props.counts;
  const finished = c.processed + c.failed;
  const total = c.total + props.arriving;
  return (
    <div class="card" aria-labelledby="processing">
      <h2 id="processing" class="sr-only">Processing</h2>
      <div class="counts">
        <div><strong>{total}</strong> photos</div>
        <div><strong>{c.processed}</strong> processed</div>
        <div><strong>{c.uploaded + c.processing + props.arriving}</strong> in progress</div>
        <div><strong>{c.failed}</strong> failed</div>
      </div>
      <Progress value={finished} max={total} label="Photos processed" />
      <p class="hint" role="status">
        {total === 0 ? "No photos yet." : finished === total ? "All photos are processed." : "Processing photos…"}
      </p>
    </div>
  );
}

function InviteCard(props: { group: Group }) {
  return (
    <div class="card">
      <h2>Invite attendees</h2>
      <InviteLink code={props.group.invite_code} id="invite-link" label="Invite link">
        <p class="hint">
          Print the QR code at the venue or share the link. Attendees sign in with their phone and a selfie and
          see only their photos and the photos you mark for everyone.
        </p>
      </InviteLink>
    </div>
  );
}

function UploadPanel(props: {
  uploader: Uploader;
  sections: Schemas["SectionOut"][];
  sectionId: string | null;
  onSection: (id: string | null) => void;
}) {
  const { uploader } = props;
  const [over, setOver] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const resume = uploader.resume.read().pending.filter(
    (p) => !uploader.items.some((i) => i.file.name === p.name && i.file.size === p.size),
  );
  const totals = uploader.totals();

  const add = (files: File[]) => {
    const { skipped } = uploader.add(files);
    setNote(skipped ? `${skipped} file(s) skipped: not a photo, or uploaded already.` : null);
  };
  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    add([...(event.dataTransfer?.files ?? [])]);
  };

  return (
    <div class="stack">
      {props.sections.length > 0 && (
        <div>
          <label for="upload-section">Put the photos into a section</label>
          <select id="upload-section" value={props.sectionId ?? ""} onChange={(e) => props.onSection(e.currentTarget.value || null)}>
            <option value="">No section</option>
            {props.sections.map((s) => (
              <option key={s.section_id} value={s.section_id}>{s.name}</option>
            ))}
          </select>
        </div>
      )}
      <div
        class={`dropzone ${over ? "over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p>Drag and drop photos here (hundreds at a time are fine),</p>
        <label for="photo-files" class="button">
          or choose photos
        </label>
        <input
          id="photo-files"
          class="sr-only"
          type="file"
          accept="image/jpeg,image/png,image/webp,image/gif,image/heic,image/heif"
          multiple
          onChange={(e) => {
            add([...(e.currentTarget.files ?? [])]);
            e.currentTarget.value = "";
          }}
        />
        <p class="hint">Photos go straight to storage, {CONCURRENCY} at a time; processing starts as each one lands.</p>
      </div>
      {note && <Alert kind="info">{note}</Alert>}
      {resume.length > 0 && (
        <Alert kind="info">
          <p>
            {resume.length} photo(s) from an earlier visit were not uploaded. Choose or drop them again to finish:
            photos already uploaded are skipped.
          </p>
          <details>
            <summary>Show their names</summary>
            <ul>{resume.slice(0, 200).map((p) => <li key={p.name + p.size}>{p.name}</li>)}</ul>
          </details>
          <button type="button" class="link" onClick={() => { uploader.resume.forget(); setNote("Forgotten."); }}>
            Forget them
          </button>
        </Alert>
      )}
      {totals.count > 0 && (
        <div class="card">
          <h2>Uploads</h2>
          <Progress value={totals.loaded} max={totals.bytes} label="All uploads" />
          <p role="status">
            {totals.done} of {totals.count} uploaded{totals.failed ? `, ${totals.failed} failed` : ""}.
          </p>
          {totals.failed > 0 && (
            <button type="button" onClick={() => uploader.retryFailed()}>
              Retry the failed uploads
            </button>
          )}
          <ul class="uploads" aria-label="Files" tabIndex={0}>
            {uploader.items.map((item) => (
              <li key={item.id}>
                <span class="name" title={item.file.name}>{item.file.name}</span>
                <progress
                  value={item.state === "done" ? 1 : item.loaded / Math.max(item.file.size, 1)}
                  max={1}
                  aria-label={`Upload of ${item.file.name}`}
                />
                <span class={`state-${item.state}`} title={item.error}>
                  {item.state === "failed" ? "failed" : item.state === "done" ? "done" : item.state === "uploading" ? (item.attempts > 1 ? "retrying" : "sending") : "waiting"}
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function PhotosPanel(props: { group: Group; onChanged: () => void }) {
  const [images, setImages] = useState<ImageItem[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [open, setOpen] = useState<number | null>(null);
  const [selecting, setSelecting] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [note, setNote] = useState<string | null>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const gid = props.group.group_id;

  const more = async () => {
    if (loading || cursor === null) return;
    setLoading(true);
    try {
      const page = ok(
        await api.GET("/groups/{group_id}/images", {
          params: { path: { group_id: gid }, query: { limit: 200, cursor: cursor ?? undefined } },
        }),
      );
      setImages((list) => [...list, ...page.items]);
      setCursor(page.next_cursor ?? null);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void more();
  }, []);
  useEffect(() => {
    const el = sentinel.current;
    if (!el) return;
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && void more(), { rootMargin: "800px" });
    io.observe(el);
    return () => io.disconnect();
  });

  const common = new Set(props.group.common_photo_ids);
  const markCommon = async (on: boolean) => {
    const ids = new Set(common);
    selected.forEach((id) => (on ? ids.add(id) : ids.delete(id)));
    ok(await api.POST("/update-group", { body: { group_id: gid, common_photo_ids: [...ids] } }));
    setNote(on ? `${selected.size} photo(s) are now shown to everyone.` : "Updated.");
    setSelected(new Set());
    props.onChanged();
  };
  const remove = async () => {
    for (const id of selected) ok(await api.DELETE("/images/{image_id}", { params: { path: { image_id: id } } }));
    setImages(images.filter((i) => !selected.has(i.image_id)));
    setNote(`${selected.size} photo(s) deleted.`);
    setSelected(new Set());
    props.onChanged();
  };

  return (
    <div class="stack">
      {note && <Alert kind="ok">{note}</Alert>}
      <div class="row">
        <button type="button" class="secondary" onClick={() => { setSelecting(!selecting); setSelected(new Set()); }}>
          {selecting ? "Done selecting" : "Select"}
        </button>
        {selecting && selected.size > 0 && (
          <>
            <button type="button" onClick={() => markCommon(true)}>Show to everyone ({selected.size})</button>
            <button type="button" class="secondary" onClick={() => markCommon(false)}>Stop showing to everyone</button>
            <button type="button" class="danger" onClick={remove}>Delete ({selected.size})</button>
          </>
        )}
      </div>
      <VirtualGrid
        items={images}
        minTile={150}
        label="Event photos"
        tile={(image, index) => (
          <button
            type="button"
            class="tile"
            aria-pressed={selecting ? selected.has(image.image_id) : undefined}
            aria-label={`${selecting ? "Select" : "Open"} photo ${image.file_name ?? index + 1}${common.has(image.image_id) ? " (shown to everyone)" : ""}`}
            onClick={() => {
              if (!selecting) return setOpen(index);
              const next = new Set(selected);
              if (next.has(image.image_id)) next.delete(image.image_id);
              else next.add(image.image_id);
              setSelected(next);
            }}
          >
            {image.thumbnail_url || image.url ? <img src={image.thumbnail_url ?? image.url ?? ""} alt="" loading="lazy" decoding="async" /> : <span>{image.status}</span>}
            {selecting && <span class="check" aria-hidden="true">{selected.has(image.image_id) ? "✓" : ""}</span>}
          </button>
        )}
      />
      <div ref={sentinel} />
      {loading && <Spinner label="Loading photos…" />}
      {open !== null && (
        <Lightbox
          photos={images.map((i) => ({ id: i.image_id, preview: i.preview_url ?? i.url ?? "", original: i.url ?? "" }))}
          index={open}
          onIndex={setOpen}
          onClose={() => setOpen(null)}
        />
      )}
    </div>
  );
}

function SectionsPanel(props: { groupId: string; sections: Schemas["SectionOut"][]; onChanged: () => void }) {
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      ok(await api.POST("/groups/{group_id}/sections", { params: { path: { group_id: props.groupId } }, body: { name: name.trim(), description: "" } }));
      setName("");
      props.onChanged();
    } catch (e) {
      setError(message(e));
    }
  };
  const remove = async (sectionId: string) => {
    ok(await api.DELETE("/groups/{group_id}/sections/{section_id}", { params: { path: { group_id: props.groupId, section_id: sectionId } } }));
    props.onChanged();
  };
  return (
    <div class="stack">
      {error && <Alert>{error}</Alert>}
      <p>Sections split an event (ceremony, dinner, day 2). Choose one when uploading.</p>
      <ul class="events">
        {props.sections.map((s) => (
          <li key={s.section_id}>
            {s.name}
            <button type="button" class="secondary" onClick={() => remove(s.section_id)} aria-label={`Delete section ${s.name}`}>
              Delete
            </button>
          </li>
        ))}
      </ul>
      <form onSubmit={create} class="row">
        <div class="grow">
          <label for="section-name">New section</label>
          <input id="section-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={!name.trim()}>Add the section</button>
      </form>
    </div>
  );
}

