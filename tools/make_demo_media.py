"""Generate the tiny demo media files in ``app/demo/assets``.

The outputs (``recording.mp4``, ``recording.ogg`` and ``audio.mp3``) are
committed to the repository; this script is only needed to regenerate them.
It requires PyAV (``av``) and numpy, which are not runtime dependencies:

    python tools/make_demo_media.py
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "app" / "demo" / "assets"

SECONDS = 3
WIDTH, HEIGHT, FPS = 160, 90, 10
TONE_HZ = 440.0
# Bit-exact muxing (fixed Ogg serial, no Lavf version tags) keeps output reproducible.
BITEXACT = {"fflags": "+bitexact"}


def tone(sample_rate: int) -> np.ndarray:
    """Return a mono float32 sine tone with short fades, shaped (1, samples)."""
    t = np.arange(SECONDS * sample_rate) / sample_rate
    wave = 0.3 * np.sin(2 * np.pi * TONE_HZ * t)
    fade = min(len(t) // 2, sample_rate // 20)
    ramp = np.linspace(0.0, 1.0, fade)
    wave[:fade] *= ramp
    wave[-fade:] *= ramp[::-1]
    return wave.astype(np.float32).reshape(1, -1)


def picture(index: int) -> np.ndarray:
    """Return an RGB frame: a white bar sweeping over a slowly changing colour."""
    phase = index / (SECONDS * FPS - 1)
    background = np.array([255 * (1 - phase), 96, 255 * phase], dtype=np.uint8)
    image = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    image[:] = background
    bar = 16
    left = round(phase * (WIDTH - bar))
    image[:, left : left + bar] = 255
    return image


def encode_audio(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    samples: np.ndarray,
) -> None:
    """Encode mono float samples (shaped (1, n)) into ``stream`` and flush it."""
    frame = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
    frame.sample_rate = stream.codec_context.sample_rate
    frame.pts = 0
    container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def make_mp4(path: Path) -> None:
    """Write an H.264/AAC MP4 with the moov atom at the front."""
    with av.open(str(path), "w", options={**BITEXACT, "movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"crf": "24", "preset": "veryslow", "tune": "animation"}
        audio = out.add_stream("aac", rate=44100, layout="mono")
        audio.bit_rate = 48_000
        for index in range(SECONDS * FPS):
            frame = av.VideoFrame.from_ndarray(picture(index), format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        encode_audio(out, audio, tone(44100))


def make_ogg(path: Path) -> None:
    """Write an audio-only Ogg Opus file containing the tone."""
    with av.open(str(path), "w", format="ogg", options=BITEXACT) as out:
        audio = out.add_stream("libopus", rate=48000, layout="mono")
        audio.bit_rate = 24_000
        encode_audio(out, audio, tone(48000))


def extract_mp3(source: Path, path: Path) -> None:
    """Re-encode the audio track of ``source`` as a small MP3."""
    with av.open(str(source)) as src:
        chunks = [frame.to_ndarray() for frame in src.decode(audio=0)]
    samples = np.concatenate(chunks, axis=1)[:, : SECONDS * 44100]
    with av.open(str(path), "w", options=BITEXACT) as out:
        audio = out.add_stream("libmp3lame", rate=44100, layout="mono")
        audio.bit_rate = 32_000
        encode_audio(out, audio, samples)


def main() -> None:
    """Regenerate every demo asset and print the resulting file sizes."""
    ASSETS.mkdir(parents=True, exist_ok=True)
    mp4 = ASSETS / "recording.mp4"
    make_mp4(mp4)
    make_ogg(ASSETS / "recording.ogg")
    extract_mp3(mp4, ASSETS / "audio.mp3")
    for path in sorted(ASSETS.iterdir()):
        print(f"{path.relative_to(ASSETS.parents[2])}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
