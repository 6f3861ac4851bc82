// An invite link with its QR code and a copy button: the attendees' link and the crew's.
import type { ComponentChildren } from "preact";
import { useMemo, useState } from "preact/hooks";
import { renderSVG } from "uqr";

export function InviteLink(props: { code: string; id: string; label: string; children?: ComponentChildren }) {
  const link = `${location.origin}/e/${props.code}`;
  const svg = useMemo(() => renderSVG(link, { border: 1 }), [link]);
  const [copied, setCopied] = useState(false);
  return (
    <div class="invite">
      <div class="qr" role="img" aria-label={`QR code of the ${props.label.toLowerCase()} ${link}`} dangerouslySetInnerHTML={{ __html: svg }} />
      <div class="stack grow">
        <label for={props.id}>{props.label}</label>
        <input id={props.id} readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
        <div class="row">
          <button type="button" onClick={() => navigator.clipboard?.writeText(link).then(() => setCopied(true))}>
            Copy the link
          </button>
          <span role="status">{copied ? "Copied." : ""}</span>
        </div>
        {props.children}
      </div>
    </div>
  );
}
