// Sign in with a phone number and a texted code; new people also give a name and a selfie.
import { useState } from "preact/hooks";
import { api, ApiFailure, message, ok, postForm, saveSession, type Session } from "./api";
import { Selfie, SELFIE_ADVICE } from "./selfie";
import { Alert } from "./ui";

type Step = "phone" | "code" | "register";

export function SignIn(props: { onSignedIn: (session: Session) => void; purpose: string }) {
  const [step, setStep] = useState<Step>("phone");
  const [phone, setPhone] = useState("");
  const [code, setCode] = useState("");
  const [name, setName] = useState("");
  const [selfie, setSelfie] = useState<Blob | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      if (e instanceof ApiFailure && e.error.code === "face_requirement") {
        setError(SELFIE_ADVICE[e.error.reason ?? ""] ?? e.error.detail);
      } else {
        setError(message(e));
      }
    } finally {
      setBusy(false);
    }
  };

  const sendCode = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      ok(await api.POST("/auth/otp", { body: { phone_number: phone.trim() } }));
      setStep("code");
    });
  };

  const useCode = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const result = await api.POST("/auth/token", { body: { phone_number: phone.trim(), otp: code.trim() } });
      if (result.error && (result.error as { code?: string }).code === "unknown_user") {
        setStep("register"); // the code is kept: registering uses it
        return;
      }
      const token = ok(result);
      props.onSignedIn(saveSession(token.access_token, token.user_id, token.expires_in));
    });
  };

  const register = (event: Event) => {
    event.preventDefault();
    if (!selfie) {
      setError("Take a selfie or choose a photo of yourself first.");
      return;
    }
    void run(async () => {
      const form = new FormData();
      form.set("name", name.trim());
      form.set("phone_number", phone.trim());
      form.set("otp", code.trim());
      form.set("selfie", selfie, "selfie.jpg");
      const created = await postForm<{ access_token: string; user_id: string; expires_in: number }>(
        "/register",
        form,
      );
      props.onSignedIn(saveSession(created.access_token, created.user_id, created.expires_in));
    });
  };

  return (
    <div class="card">
      {error && <Alert>{error}</Alert>}
      {step === "phone" && (
        <form onSubmit={sendCode}>
          <label for="phone">Your mobile number</label>
          <input
            id="phone"
            type="tel"
            autocomplete="tel"
            inputMode="tel"
            placeholder="+14155550123"
            required
            value={phone}
            onInput={(e) => setPhone(e.currentTarget.value)}
          />
          <p class="hint">With the country code. We text you a 6-digit code {props.purpose}.</p>
          <button type="submit" disabled={busy || phone.trim().length < 8}>
            Send me a code
          </button>
        </form>
      )}
      {step === "code" && (
        <form onSubmit={useCode}>
          <label for="code">The code we texted to {phone}</label>
          <input
            id="code"
            autocomplete="one-time-code"
            inputMode="numeric"
            pattern="[0-9]*"
            maxLength={10}
            required
            value={code}
            onInput={(e) => setCode(e.currentTarget.value)}
          />
          <div class="row">
            <button type="submit" disabled={busy || code.trim().length < 4}>
              Continue
            </button>
            <button type="button" class="link" onClick={() => setStep("phone")}>
              Change the number
            </button>
          </div>
        </form>
      )}
      {step === "register" && (
        <form onSubmit={register} class="stack">
          <p>Welcome! One selfie lets FindMe recognise you in the event's photos.</p>
          <div>
            <label for="name">Your name</label>
            <input
              id="name"
              autocomplete="name"
              required
              maxLength={100}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </div>
          <Selfie onPicked={setSelfie} idPrefix="register" />
          <button type="submit" disabled={busy || !name.trim() || !selfie}>
            {busy ? "Checking your selfie…" : "Create my account"}
          </button>
          <p class="hint">
            Your selfie is used only to find you in this service's photos. You can delete your account and
            data at any time.
          </p>
        </form>
      )}
    </div>
  );
}
