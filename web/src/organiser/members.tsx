// Members and their roles (owners only): the list paged with the API cursor, a role per member,
// remove, add a registered user by phone number, and the photographers' invite link.
import { useEffect, useState } from "preact/hooks";
import { api, message, ok, type Group, type Schemas } from "../api";
import { Alert, Spinner } from "../ui";
import { InviteLink } from "./invite";

type Member = Schemas["MemberOut"];
type Role = Schemas["GroupRole"];

const ROLES: { role: Role; name: string }[] = [
  { role: "owner", name: "Owner" },
  { role: "photographer", name: "Photographer" },
  { role: "member", name: "Member" },
];
const A_ROLE: Record<Role, string> = { owner: "an owner", photographer: "a photographer", member: "a member" };
const PAGE = 50;

const who = (m: Member) => m.name || "A former user";

export function Members(props: { group: Group; onGroup: (g: Group) => void }) {
  const gid = props.group.group_id;
  const code = props.group.photographer_invite_code;
  const path = { group_id: gid };
  const [members, setMembers] = useState<Member[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [note, setNote] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [phone, setPhone] = useState("");
  const [role, setRole] = useState<Role>("photographer");
  const [busy, setBusy] = useState(false);

  const page = async (after: string | null) => {
    setLoading(true);
    try {
      const found = ok(await api.GET("/groups/{group_id}/members", { params: { path, query: { limit: PAGE, cursor: after ?? undefined } } }));
      setMembers((list) => [...(after ? (list ?? []) : []), ...found.items]);
      setCursor(found.next_cursor ?? null);
    } catch (e) {
      setNote({ kind: "error", text: message(e) });
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void page(null);
  }, [gid]);

  const act = async (work: () => Promise<string>) => {
    setBusy(true);
    try {
      setNote({ kind: "ok", text: await work() });
    } catch (e) {
      setNote({ kind: "error", text: message(e) });
    } finally {
      setBusy(false);
    }
  };
  const replace = (m: Member) => setMembers((list) => (list ?? []).map((x) => (x.user_id === m.user_id ? m : x)));

  const changeRole = (m: Member, next: Role) =>
    act(async () => {
      try {
        replace(ok(await api.PATCH("/groups/{group_id}/members/{user_id}", { params: { path: { ...path, user_id: m.user_id } }, body: { role: next } })));
      } catch (e) {
        replace({ ...m }); // the select shows the role the member still has
        throw e;
      }
      return `${who(m)} is now ${A_ROLE[next]}.`;
    });
  const remove = (m: Member) =>
    act(async () => {
      ok(await api.DELETE("/groups/{group_id}/members/{user_id}", { params: { path: { ...path, user_id: m.user_id } } }));
      setMembers((list) => (list ?? []).filter((x) => x.user_id !== m.user_id));
      return `${who(m)} was removed from the event.`;
    });
  const add = (event: Event) => {
    event.preventDefault();
    void act(async () => {
      const added = ok(await api.POST("/groups/{group_id}/members", { params: { path }, body: { phone_number: phone.trim(), role } }));
      setPhone("");
      await page(null); // the list keeps the API's order: owners, photographers, members
      return `${who(added)} was added as ${A_ROLE[added.role]}.`;
    });
  };
  const newCode = () =>
    act(async () => {
      props.onGroup(ok(await api.POST("/groups/{group_id}/invite-codes", { params: { path }, body: { role: "photographer" } })));
      return code ? "A new photographer invite link is ready; the old one no longer works." : "The photographer invite link is ready.";
    });

  return (
    <div class="stack">
      {note && <Alert kind={note.kind}>{note.text}</Alert>}
      <section class="card" aria-labelledby="crew">
        <h2 id="crew">Invite photographers</h2>
        {code ? (
          <InviteLink code={code} id="photographer-link" label="Photographer invite link">
            <p class="hint">
              Whoever opens this link and signs in joins as a photographer: they upload photos, review them and
              delete faces. Share it with your crew only.
            </p>
            <button type="button" class="secondary" onClick={newCode} disabled={busy}>
              Replace the link (the old one stops working)
            </button>
          </InviteLink>
        ) : (
          <>
            <p>Photographers upload and review photos. Give your crew a link of their own, or add them below.</p>
            <button type="button" onClick={newCode} disabled={busy}>
              Make a photographer invite link
            </button>
          </>
        )}
      </section>
      <section aria-labelledby="members-heading">
        <h2 id="members-heading">Members</h2>
        {!members && <Spinner label="Loading members…" />}
        {members && (
          <ul class="members" aria-labelledby="members-heading">
            {members.map((m) => (
              <li key={m.user_id}>
                <div class="grow">
                  <strong>{who(m)}</strong>
                  <div class="hint">joined {new Date(m.joined_at).toLocaleDateString()}</div>
                </div>
                <div>
                  <label class="sr-only" for={`role-${m.user_id}`}>Role of {who(m)}</label>
                  <select id={`role-${m.user_id}`} value={m.role} disabled={busy} onChange={(e) => void changeRole(m, e.currentTarget.value as Role)}>
                    {ROLES.map((r) => (
                      <option key={r.role} value={r.role}>{r.name}</option>
                    ))}
                  </select>
                </div>
                <button type="button" class="secondary" disabled={busy} onClick={() => void remove(m)} aria-label={`Remove ${who(m)}`}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
        {cursor && (
          <button type="button" class="secondary" onClick={() => void page(cursor)} disabled={loading}>
            {loading ? "Loading…" : "Show more members"}
          </button>
        )}
      </section>
      <form class="card" onSubmit={add} aria-labelledby="add-member">
        <h2 id="add-member">Add someone who has signed up</h2>
        <div class="row">
          <div class="grow">
            <label for="member-phone">Their mobile number</label>
            <input id="member-phone" type="tel" autocomplete="off" inputMode="tel" placeholder="+14155550123" required value={phone} onInput={(e) => setPhone(e.currentTarget.value)} />
          </div>
          <div>
            <label for="member-role">Role</label>
            <select id="member-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              {ROLES.map((r) => (
                <option key={r.role} value={r.role}>{r.name}</option>
              ))}
            </select>
          </div>
        </div>
        <p class="hint">Owners do everything you do; photographers upload and review; members see their photos.</p>
        <button type="submit" disabled={busy || phone.trim().length < 8}>
          Add to the event
        </button>
      </form>
    </div>
  );
}
