// Persons: a grid of cover faces; rename, hide, merge (multi-select); a person's faces,
// moved out or made the cover.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, message, ok, type Face, type Person } from "../api";
import { Alert, Page, Spinner } from "../ui";

async function allPersons(groupId: string, hidden: boolean): Promise<Person[]> {
  const out: Person[] = [];
  let cursor: string | undefined;
  do {
    const page = ok(
      await api.GET("/groups/{group_id}/persons", {
        params: { path: { group_id: groupId }, query: { include_hidden: hidden, limit: 500, cursor } },
      }),
    );
    out.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor && out.length < 5000);
  return out;
}

const label = (p: Person) => p.name || "Unnamed";

export function Persons(props: { groupId: string }) {
  const [persons, setPersons] = useState<Person[] | null>(null);
  const [hidden, setHidden] = useState(false);
  const [picked, setPicked] = useState<string[]>([]);
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState("");
  const [note, setNote] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [grouping, setGrouping] = useState(false);

  const load = () => allPersons(props.groupId, hidden).then(setPersons, (e) => setNote({ kind: "error", text: message(e) }));
  useEffect(() => {
    void load();
  }, [props.groupId, hidden]);

  const act = async (work: () => Promise<string>) => {
    try {
      const text = await work();
      await load(); // the note shows once the grid shows the change
      setNote({ kind: "ok", text });
    } catch (e) {
      setNote({ kind: "error", text: message(e) });
    }
  };
  const rename = (p: Person) =>
    act(async () => {
      ok(await api.PATCH("/persons/{person_id}", { params: { path: { person_id: p.person_id } }, body: { name: draft.trim() } }));
      setEditing(null);
      return `Renamed to ${draft.trim() || "Unnamed"}.`;
    });
  const hide = (p: Person) =>
    act(async () => {
      ok(await api.PATCH("/persons/{person_id}", { params: { path: { person_id: p.person_id } }, body: { hidden: !p.hidden } }));
      return p.hidden ? `${label(p)} is shown again.` : `${label(p)} is hidden.`;
    });
  const merge = () =>
    act(async () => {
      const chosen = (persons ?? []).filter((p) => picked.includes(p.person_id));
      chosen.sort((a, b) => b.face_count - a.face_count);
      const [target, ...sources] = chosen;
      const result = ok(
        await api.POST("/persons/{person_id}/merge", {
          params: { path: { person_id: target.person_id } },
          body: { source_person_ids: sources.map((s) => s.person_id) },
        }),
      );
      setPicked([]);
      return `Merged ${sources.length + 1} persons into ${label(target)} (${result.moved_face_count} faces moved).`;
    });

  const regroup = () =>
    act(async () => {
      setGrouping(true);
      try {
        const job = ok(
          await api.POST("/groups/{group_id}/recluster", {
            params: { path: { group_id: props.groupId } },
            body: { preserve_manual: true },
          }),
        );
        for (;;) {
          await new Promise((r) => setTimeout(r, 1500));
          const status = ok(await api.GET("/jobs/{job_id}", { params: { path: { job_id: job.job_id } } }));
          if (status.status === "failed") throw new Error(status.error ?? "Grouping failed.");
          if (status.status === "succeeded") return "Faces are grouped into persons; your renames, merges and moves are kept.";
        }
      } finally {
        setGrouping(false);
      }
    });

  if (!persons) return <Spinner label="Loading persons…" />;
  return (
    <div class="stack">
      {note && <Alert kind={note.kind}>{note.text}</Alert>}
      <div class="row">
        <label class="pick">
          <input type="checkbox" checked={hidden} onChange={(e) => setHidden(e.currentTarget.checked)} /> Show hidden persons
        </label>
        <button type="button" disabled={picked.length < 2} onClick={merge}>
          Merge {picked.length >= 2 ? picked.length : ""} selected
        </button>
        <button type="button" class="secondary" onClick={regroup} disabled={grouping}>
          {grouping ? "Grouping faces…" : "Group new faces into persons"}
        </button>
        <span class="hint">{persons.length} persons. Tick two or more to merge them.</span>
      </div>
      {persons.length === 0 && <p>No persons yet: they appear as photos are processed.</p>}
      <ul class="persons" aria-label="Persons">
        {persons.map((p) => (
          <li key={p.person_id} class={`person ${picked.includes(p.person_id) ? "selected" : ""}`}>
            <a href={`/o/events/${props.groupId}/persons/${p.person_id}`} aria-label={`Open ${label(p)}`}>
              {p.cover_thumbnail_url ? <img class="face" src={p.cover_thumbnail_url} alt="" loading="lazy" /> : <div class="face" />}
            </a>
            {editing === p.person_id ? (
              <form onSubmit={(e) => { e.preventDefault(); void rename(p); }}>
                <label for={`name-${p.person_id}`} class="sr-only">Name</label>
                <input id={`name-${p.person_id}`} value={draft} maxLength={100} onInput={(e) => setDraft(e.currentTarget.value)} />
                <div class="row">
                  <button type="submit">Save</button>
                  <button type="button" class="link" onClick={() => setEditing(null)}>Cancel</button>
                </div>
              </form>
            ) : (
              <>
                <strong>{label(p)}</strong>
                <div class="meta">
                  {p.face_count} faces · {p.image_count} photos{p.hidden ? " · hidden" : ""}
                </div>
                <div class="row">
                  <button type="button" class="link" onClick={() => { setEditing(p.person_id); setDraft(p.name ?? ""); }} aria-label={`Rename ${label(p)}`}>
                    Rename
                  </button>
                  <button type="button" class="link" onClick={() => hide(p)} aria-label={`${p.hidden ? "Show" : "Hide"} ${label(p)}`}>
                    {p.hidden ? "Show" : "Hide"}
                  </button>
                </div>
              </>
            )}
            <label class="pick">
              <input
                type="checkbox"
                checked={picked.includes(p.person_id)}
                onChange={(e) =>
                  setPicked(e.currentTarget.checked ? [...picked, p.person_id] : picked.filter((id) => id !== p.person_id))
                }
              />
              Select {label(p)}
            </label>
          </li>
        ))}
      </ul>
    </div>
  );
}

export function PersonPage(props: { groupId: string; personId: string; actions: ComponentChildren }) {
  const [detail, setDetail] = useState<{ person: Person; faces: Face[] } | null>(null);
  const [note, setNote] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const load = () =>
    api
      .GET("/persons/{person_id}", { params: { path: { person_id: props.personId } } })
      .then((r) => setDetail(ok(r)), (e) => setNote({ kind: "error", text: message(e) }));
  useEffect(() => {
    void load();
  }, [props.personId]);

  const act = async (work: () => Promise<string>) => {
    try {
      const text = await work();
      await load(); // the note shows once the grid shows the change
      setNote({ kind: "ok", text });
    } catch (e) {
      setNote({ kind: "error", text: message(e) });
    }
  };
  const moveOut = (face: Face) =>
    act(async () => {
      const moved = ok(await api.POST("/faces/{face_id}/move", { params: { path: { face_id: face.face_id } }, body: {} }));
      return `The face is now its own person${moved.created_person ? "" : ` (${moved.person.name ?? "unnamed"})`}.`;
    });
  const cover = (face: Face) =>
    act(async () => {
      ok(await api.PATCH("/persons/{person_id}", { params: { path: { person_id: props.personId } }, body: { cover_face_id: face.face_id } }));
      return "Cover face set.";
    });

  const name = detail ? detail.person.name || "Unnamed person" : "Person";
  return (
    <Page title={name} wide actions={props.actions}>
      <p>
        <a href={`/o/events/${props.groupId}?tab=persons`}>← Persons</a>
      </p>
      {note && <Alert kind={note.kind}>{note.text}</Alert>}
      {!detail && !note && <Spinner label="Loading…" />}
      {detail && (
        <>
          <p>
            {detail.person.face_count} faces in {detail.person.image_count} photos. Move out the faces that are someone else.
          </p>
          <ul class="faces" aria-label="Faces">
            {detail.faces.map((f, i) => (
              <li key={f.face_id}>
                {f.thumbnail_url && <img src={f.thumbnail_url} alt={`Face ${i + 1}`} loading="lazy" />}
                <div>
                  Grade {f.quality_grade}
                  {f.face_id === detail.person.cover_face_id ? " · cover" : ""}
                </div>
                <button type="button" class="link" onClick={() => moveOut(f)} aria-label={`Move out face ${i + 1}`}>
                  Move out
                </button>
                {f.face_id !== detail.person.cover_face_id && (
                  <button type="button" class="link" onClick={() => cover(f)} aria-label={`Make cover: face ${i + 1}`}>
                    Make cover
                  </button>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </Page>
  );
}
