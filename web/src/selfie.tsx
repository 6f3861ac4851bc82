// A selfie from the front camera (getUserMedia), or a photo picked from the device.
import { useEffect, useRef, useState } from "preact/hooks";
import { Alert } from "./ui";

/** What the API's selfie checks answer (422 `face_requirement`, `reason`), for people. */
export const SELFIE_ADVICE: Record<string, string> = {
  no_face: "We could not find a face. Face the camera in good light and try again.",
  several_faces: "There is more than one face in the photo. Take the selfie on your own.",
  too_blurry: "The photo is too blurry. Hold the phone still and try again.",
  too_small: "Your face is too small in the photo. Come closer to the camera.",
  low_confidence: "We could not see your face clearly. Face the camera, without sunglasses, in good light.",
};

export function Selfie(props: { onPicked: (file: Blob | null) => void; idPrefix: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const [stream, setStream] = useState<MediaStream | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const canUseCamera = typeof navigator !== "undefined" && !!navigator.mediaDevices?.getUserMedia;

  useEffect(() => () => stream?.getTracks().forEach((t) => t.stop()), [stream]);
  useEffect(() => () => { if (preview) URL.revokeObjectURL(preview); }, [preview]);

  const startCamera = async () => {
    setProblem(null);
    try {
      const media = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 1280 } },
        audio: false,
      });
      setStream(media);
      setPreview(null);
      props.onPicked(null);
      requestAnimationFrame(() => {
        if (video.current) {
          video.current.srcObject = media;
          void video.current.play();
        }
      });
    } catch {
      setProblem("The camera is not available (permission refused or no camera). Choose a photo instead.");
    }
  };

  const capture = () => {
    const v = video.current;
    if (!v || !v.videoWidth) return;
    const canvas = document.createElement("canvas");
    canvas.width = v.videoWidth;
    canvas.height = v.videoHeight;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    ctx.drawImage(v, 0, 0); // as the camera sees it (the live preview alone is mirrored)
    canvas.toBlob(
      (blob) => {
        if (!blob) return;
        stream?.getTracks().forEach((t) => t.stop());
        setStream(null);
        setPreview(URL.createObjectURL(blob));
        props.onPicked(blob);
      },
      "image/jpeg",
      0.92,
    );
  };

  const picked = (event: Event) => {
    const file = (event.currentTarget as HTMLInputElement).files?.[0] ?? null;
    stream?.getTracks().forEach((t) => t.stop());
    setStream(null);
    setPreview(file ? URL.createObjectURL(file) : null);
    props.onPicked(file);
  };

  return (
    <div class="stack">
      {(stream || preview) && (
        <div class="camera">
          {stream && <video ref={video} playsInline muted aria-label="Camera preview" />}
          {!stream && preview && <img src={preview} alt="Your selfie" />}
        </div>
      )}
      {problem && <Alert kind="info">{problem}</Alert>}
      <div class="row">
        {stream ? (
          <button type="button" onClick={capture}>
            Take the selfie
          </button>
        ) : (
          canUseCamera && (
            <button type="button" class={preview ? "secondary" : ""} onClick={startCamera}>
              {preview ? "Retake with the camera" : "Use the camera"}
            </button>
          )
        )}
      </div>
      <label for={`${props.idPrefix}-file`}>Or choose a photo of yourself</label>
      <input id={`${props.idPrefix}-file`} type="file" accept="image/*" capture="user" onChange={picked} />
      <p class="hint">Alone in the picture, facing the camera, in good light.</p>
    </div>
  );
}
