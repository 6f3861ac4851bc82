// Review: low-quality faces (with grade filters), near-duplicates, outliers.
import { useEffect, useState } from "preact/hooks";
import { api, message, ok, type Schemas } from "../api";
import { Alert, Spinner } from "../ui";

const GRADES = ["F", "D", "C", "B", "A"];

export function Review(props: { groupId: string }) {
  const [low, setLow] = useState<Schemas["FaceQualityOut"][] | null>(null);
  const [grades, setGrades] = useState<Set<string>>(new Set(["F", "D", "C"]));
  const [pairs, setPairs] = useState<Schemas["DuplicatePairOut"][] | null>(null);
  const [outliers, setOutliers] = useState<Schemas["OutlierOut"][] | null>(null);
  const [note, setNote] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const gid = props.groupId;

  const load = () => {
    api
      .GET("/groups/{group_id}/faces/low-quality", { params: { path: { group_id: gid }, query: { min_overall_quality: 0.7, limit: 200 } } })
      .then((r) => setLow(ok(r).faces), (e) => setNote({ kind: "error", text: message(e) }));
    api.GET("/faces/duplicates", { params: { query: { group_id: gid, limit: 60 } } }).then((r) => setPairs(r.data?.pairs ?? []));
    api.GET("/faces/outliers", { params: { query: { group_id: gid, limit: 60 } } }).then((r) => setOutliers(r.data?.outliers ?? []));
  };
  useEffect(load, [gid]);

  const deleteFace = async (faceId: string) => {
    try {
      ok(await api.POST("/faces:batch-delete", { body: { face_ids: [faceId], delete_thumbnails: true } }));
      setNote({ kind: "ok", text: "Face deleted." });
      load();
    } catch (e) {
      setNote({ kind: "error", text: message(e) });
    }
  };
  const moveOut = async (faceId: string) => {
    try {
      ok(await api.POST("/faces/{face_id}/move", { params: { path: { face_id: faceId } }, body: {} }));
      setNote({ kind: "ok", text: "The face is now its own person." });
      load();
    } catch (e) {
      setNote({ kind: "error", text: message(e) });
    }
  };

  const shown = (low ?? []).filter((f) => grades.has(f.quality_grade));
  return (
    <div class="stack">
      {note && <Alert kind={note.kind}>{note.text}</Alert>}
      <section aria-labelledby="low">
        <h2 id="low">Low-quality faces</h2>
        <fieldset class="row">
          <legend>Grades shown</legend>
          {GRADES.map((g) => (
            <label class="pick" key={g}>
              <input
                type="checkbox"
                checked={grades.has(g)}
                onChange={(e) => {
                  const next = new Set(grades);
                  if (e.currentTarget.checked) next.add(g);
                  else next.delete(g);
                  setGrades(next);
                }}
              />
              {g}
            </label>
          ))}
        </fieldset>
        {!low ? (
          <Spinner label="Loading…" />
        ) : (
          <ul class="faces" aria-label="Low-quality faces">
            {shown.map((f, i) => (
              <li key={f.face_id}>
                {f.thumbnail_url && <img src={f.thumbnail_url} alt={`Low-quality face ${i + 1}`} loading="lazy" />}
                <div>
                  Grade {f.quality_grade} · {Math.round(f.overall_quality * 100)} %
                </div>
                <div class="hint">{f.issues.join(", ")}</div>
                <button type="button" class="link" onClick={() => deleteFace(f.face_id)} aria-label={`Delete face ${i + 1} (low quality)`}>
                  Delete face
                </button>
              </li>
            ))}
            {shown.length === 0 && <li>None with these grades.</li>}
          </ul>
        )}
      </section>
      <section aria-labelledby="dupes">
        <h2 id="dupes">Near-duplicates</h2>
        {!pairs ? (
          <Spinner label="Loading…" />
        ) : pairs.length === 0 ? (
          <p>None found.</p>
        ) : (
          <ul class="pairs">
            {pairs.map((p, i) => (
              <li key={p.face_id_1 + p.face_id_2}>
                {p.thumbnail_url_1 && <img src={p.thumbnail_url_1} alt={`Pair ${i + 1}, first face`} loading="lazy" />}
                {p.thumbnail_url_2 && <img src={p.thumbnail_url_2} alt={`Pair ${i + 1}, second face`} loading="lazy" />}
                <p>Similarity {p.similarity_score.toFixed(2)}</p>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="outliers">
        <h2 id="outliers">Faces that may be in the wrong person</h2>
        {!outliers ? (
          <Spinner label="Loading…" />
        ) : outliers.length === 0 ? (
          <p>None found.</p>
        ) : (
          <ul class="faces">
            {outliers.map((o, i) => (
              <li key={o.face_id}>
                {o.thumbnail_url && <img src={o.thumbnail_url} alt={`Outlier face ${i + 1}`} loading="lazy" />}
                <div>
                  In {o.person_name || "an unnamed person"} ({o.avg_similarity_to_cluster.toFixed(2)})
                </div>
                <button type="button" class="link" onClick={() => moveOut(o.face_id)} aria-label={`Move out outlier face ${i + 1}`}>
                  Move out
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
