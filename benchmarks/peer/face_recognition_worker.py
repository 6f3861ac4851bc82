"""The peer, face_recognition (dlib), as a line-oriented worker for ``face_engine.py --peer``.

Runs in its own virtualenv (dlib has no place in FindMe's locks); see the README's
"Benchmarks" section for the install. Reads one photo path per line on stdin and answers one
JSON line per photo on stdout::

    {"photo": "a.jpg", "faces": 2, "ms": 812.4, "cpu_ms": 810.9}

``ms`` is wall-clock milliseconds from the file's bytes to every face's 128-d encoding, the
way the library's README uses it: ``load_image_file`` (PIL decode), ``face_locations``
(HOG detector, its default: one upsampling) and ``face_encodings`` (68-point landmarks and
the ResNet embedding, one jitter). A first line ``{"ready": true, "dlib": "..."}`` is printed
once the models are loaded. Pure standard library plus face_recognition: it must not import
FindMe.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    import dlib  # type: ignore[import-not-found]
    import face_recognition  # type: ignore[import-not-found]

    print(json.dumps({"ready": True, "dlib": dlib.__version__}), flush=True)
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        start, cpu_start = time.perf_counter(), time.process_time()
        image = face_recognition.load_image_file(path)
        locations = face_recognition.face_locations(image)
        encodings = face_recognition.face_encodings(image, locations)
        ms = (time.perf_counter() - start) * 1000
        cpu_ms = (time.process_time() - cpu_start) * 1000
        print(
            json.dumps(
                {
                    "photo": path.rsplit("/", 1)[-1],
                    "faces": len(encodings),
                    "ms": round(ms, 2),
                    "cpu_ms": round(cpu_ms, 2),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
