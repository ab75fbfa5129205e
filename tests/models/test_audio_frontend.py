"""The parallel audio front end: worker processes give the serial front end's vectors, in
input order, report bad clips by id and path, are sized by the job's CPUs, and never
outlive an error. Clips are espeak-ng speech written as WAV (22.05 kHz, resampled) and MP3
(16 kHz), of very different lengths; the SONAR model is its real speech class at toy size."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import psutil
import pytest
import soundfile
from helpers.sonar import bad_audio_files, espeak_available, small_sonar_speech_encoder, synthesize

from flip_pipeline.device import job_cpus
from flip_pipeline.errors import FlipInputError
from flip_pipeline.models import build_encoder
from flip_pipeline.models.audio.features import AudioError, audio_duration, load_audio, sonar_fbank
from flip_pipeline.models.audio.frontend import AudioFrontEnd, AudioWorkerError, audio_workers
from flip_pipeline.models.sonar.embed import SonarEncoder

CARD = "sonar_speech_encoder_eng"
FBANK = {"family": "fbank_projection", "dim": 32, "seed": 0}
# a hung pool fails its test instead of holding CI to its limit
pytestmark = pytest.mark.timeout(300)

TEXTS = ["Hi.", "The old farmer buys three red apples at the market every Monday morning.", "Cats sleep.",
         "Where is the station?"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[str]:
    """Eight clips, 0.4 s to ~15 s, alternating short and long, WAV and MP3."""
    if not espeak_available():
        pytest.fail("espeak-ng is missing: apt-get install espeak-ng (setup.sh does)")
    folder = tmp_path_factory.mktemp("clips")
    wavs = [synthesize(text, folder / f"w{i}.wav") for i, text in enumerate(TEXTS)]
    paths = []
    for i, wav in enumerate(wavs):
        wave = load_audio(str(wav))
        paths.append(str(wav))  # 22.05 kHz WAV as espeak-ng writes it: resampled on load
        mp3 = folder / f"m{i}.mp3"
        soundfile.write(mp3, np.tile(wave, 1 if i % 2 == 0 else 3), 16000, format="MP3")  # long ones 3x
        paths.append(str(mp3))
    return paths


@pytest.fixture(scope="module")
def bad_clips(tmp_path_factory) -> dict[str, str]:
    return bad_audio_files(tmp_path_factory.mktemp("bad"))


def worker_processes() -> list[psutil.Process]:
    """The pool's workers: processes forked by the fork server, a child of this process."""
    me = os.getpid()
    return [p for p in psutil.Process(me).children(recursive=True) if p.ppid() != me]


def test_workers_give_the_serial_features_in_input_order(clips):
    durations = [audio_duration(p) for p in clips]
    assert max(durations) / min(durations) > 10  # very different lengths
    serial = [sonar_fbank(p) for p in clips]
    for workers in (0, 2):
        with AudioFrontEnd(workers, queue=3) as front:
            got = list(front.map(sonar_fbank, clips))
            assert list(front.map(audio_duration, clips, chunk=3)) == durations
        assert len(got) == len(clips)
        for a, b in zip(got, serial):
            np.testing.assert_array_equal(a, b)  # bitwise: same functions, another process


@pytest.fixture(scope="module")
def model():
    return small_sonar_speech_encoder(layers=1)


def test_sonar_speech_vectors_are_the_serial_ones(clips, model):
    ids = [f"c{i}" for i in range(len(clips))]
    vectors = {}
    for workers in (0, 1, 2):
        encoder = SonarEncoder("sonar", speech_batch_size=3, progress=False, audio_workers=workers,
                               speech_models={CARD: model})
        vectors[workers] = encoder.encode(ids, clips, "speech_en")
    assert vectors[0].shape == (len(clips), 64) and np.isfinite(vectors[0]).all()
    np.testing.assert_array_equal(vectors[1], vectors[0])
    np.testing.assert_array_equal(vectors[2], vectors[0])
    # input order: reversing the inputs reverses the rows (up to rounding: clips of equal
    # length, a WAV and its MP3, may share a batch with other clips then)
    reverse = SonarEncoder("sonar", speech_batch_size=3, progress=False, audio_workers=2, speech_models={CARD: model})
    np.testing.assert_allclose(reverse.encode(ids[::-1], clips[::-1], "speech_en")[::-1], vectors[0], atol=1e-4, rtol=0)


def test_fbank_projection_vectors_are_the_serial_ones(clips):
    ids = [f"c{i}" for i in range(len(clips))]
    serial = build_encoder("fbank", {**FBANK, "audio_workers": 0}).encode(ids, clips, "speech_en")
    parallel = build_encoder("fbank", {**FBANK, "audio_workers": 2})
    np.testing.assert_array_equal(parallel.encode(ids, clips, "speech_en"), serial)
    np.testing.assert_array_equal(parallel.encode(ids[::-1], clips[::-1], "speech_en"), serial[::-1])


def test_bad_clips_are_reported_by_id_and_path_with_workers(clips, bad_clips, model):
    ids = ["good0", *bad_clips, "good1"]
    paths = [clips[0], *bad_clips.values(), clips[1]]
    encoders = {workers: (build_encoder("fbank", {**FBANK, "audio_workers": workers}),
                          SonarEncoder("sonar", progress=False, audio_workers=workers, speech_models={CARD: model}))
                for workers in (0, 2)}
    for parallel, serial in zip(encoders[2], encoders[0]):
        with pytest.raises(FlipInputError) as err:
            parallel.encode(ids, paths, "speech_en")
        message = str(err.value)
        assert "4 rows with bad audio" in message and "good" not in message
        for row_id, path in bad_clips.items():
            assert f"{row_id}: {path}" in message
        for reason in ("file not found", "empty file", "audio too short", "unreadable audio"):
            assert reason in message
        parallel.skip_bad_audio = True
        kept, skipped = parallel.encode_skipping(ids, paths, "speech_en")
        assert list(skipped) == list(bad_clips) and skipped["junk"].startswith(f"{bad_clips['junk']}: unreadable")
        np.testing.assert_array_equal(kept, serial.encode(["good0", "good1"], [clips[0], clips[1]], "speech_en"))
    assert worker_processes() == []


def test_worker_count_comes_from_the_job(monkeypatch):
    assert job_cpus({"SLURM_CPUS_PER_TASK": "6"}) == 6
    assert job_cpus({}) == len(os.sched_getaffinity(0))
    assert job_cpus({"SLURM_CPUS_PER_TASK": ""}) == len(os.sched_getaffinity(0))
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    assert audio_workers("x", None) == 3 and audio_workers("x", 0) == 0
    assert build_encoder("fbank", FBANK).audio_workers == 3
    assert build_encoder("sonar", {"family": "sonar"}).audio_workers == 3
    assert build_encoder("sonar", {"family": "sonar", "audio_workers": 5}).audio_workers == 5
    for bad in (-1, "2", 1.5, True):
        with pytest.raises(FlipInputError, match=r"encoders\.fbank\.audio_workers: expected an integer >= 0"):
            build_encoder("fbank", {**FBANK, "audio_workers": bad})


def test_an_error_mid_stream_leaves_no_worker_running(clips):
    with pytest.raises(RuntimeError, match="the consumer failed"):
        with AudioFrontEnd(2, queue=4) as front:
            for i, _ in enumerate(front.map(sonar_fbank, clips * 4)):
                if i == 0:
                    started = worker_processes()
                    assert started
                if i == 2:
                    raise RuntimeError("the consumer failed")
    assert worker_processes() == []
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in started)


def test_a_killed_worker_raises_instead_of_hanging(clips):
    with pytest.raises(AudioWorkerError, match=r"pid \d+\) terminated abruptly \(exit code -9\)"):
        with AudioFrontEnd(2, queue=4) as front:
            for i, _ in enumerate(front.map(sonar_fbank, clips * 8)):
                if i == 0:
                    os.kill(worker_processes()[0].pid, signal.SIGKILL)
    assert worker_processes() == []


def test_a_worker_killed_halfway_through_sending_raises(clips):
    """The case that can hang a ProcessPoolExecutor (its workers share one result pipe)."""
    with pytest.raises(AudioWorkerError, match="terminated abruptly"):
        with AudioFrontEnd(2, queue=16) as front:
            results = front.map(sonar_fbank, clips * 4, chunk=4)  # a task's filterbanks: ~1 MB, more than a pipe holds
            next(results)
            deadline = time.monotonic() + 60
            while not all(worker.conn.poll() for worker in front._pool):  # each worker is sending its next task
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.5)
            for worker in worker_processes():
                os.kill(worker.pid, signal.SIGKILL)
            list(results)
    assert worker_processes() == []


def test_a_map_left_early_does_not_leak_into_the_next(clips):
    for workers in (0, 2):
        with AudioFrontEnd(workers, queue=8) as front:
            first = front.map(audio_duration, clips * 3)
            next(first)
            first.close()
            assert list(front.map(audio_duration, clips)) == [audio_duration(clip) for clip in clips]


def test_another_error_of_the_function_is_raised_with_the_workers_traceback():
    for workers in (0, 1):
        with AudioFrontEnd(workers) as front:
            results = front.map(int, ["12", "7", "not a number"])
            assert [next(results), next(results)] == [12, 7]
            with pytest.raises(ValueError, match="not a number") as raised:
                next(results)
        assert "in the audio front end's worker" in "".join(raised.value.__notes__)


def test_a_bad_clip_is_a_result_not_a_crash(clips, bad_clips):
    with AudioFrontEnd(2) as front:
        results = list(front.map(sonar_fbank, [clips[0], bad_clips["junk"], clips[1]]))
    assert isinstance(results[1], AudioError) and "unreadable audio" in str(results[1])
    np.testing.assert_array_equal(results[2], sonar_fbank(clips[1]))


def test_a_result_that_cannot_leave_the_worker_is_an_error_not_a_hang(clips):
    with AudioFrontEnd(1) as front:
        with pytest.raises(RuntimeError, match="cannot send what it computed, list .*cannot pickle"):
            list(front.map(open, clips[:2]))  # a list of open files: no pipe carries those


def test_worker_count_is_not_part_of_the_encoder_fingerprint():
    """Vectors are equal for every worker count (above), so changing it re-embeds nothing;
    a setting that changes the vectors still does."""
    from flip_pipeline.formats.shards import encoder_fingerprint

    spec = {"family": "sonar", "speech_batch_size": 8}
    assert encoder_fingerprint("s", {**spec, "audio_workers": 4}) == encoder_fingerprint("s", spec)
    assert encoder_fingerprint("s", {**spec, "precision": "bf16"}) != encoder_fingerprint("s", spec)


def worker_pid(_path: str) -> int:
    return os.getpid()


def test_every_worker_gets_tasks_when_a_task_is_the_whole_queue(clips):
    """Two tasks per worker stay in flight whatever ``queue`` says: with one task in
    flight (the header pass's chunk of 16 was the whole queue), one worker did everything
    and each task waited on a round trip."""
    with AudioFrontEnd(2, queue=4) as front:
        pids = list(front.map(worker_pid, clips * 8, chunk=16))
    assert len(pids) == len(clips) * 8 and len(set(pids)) == 2


def test_a_worker_that_cannot_start_raises_its_own_error(monkeypatch):
    import multiprocessing.process

    def refuse(self):
        raise OSError("fork refused")

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)
    with pytest.raises(OSError, match="fork refused") as raised:
        with AudioFrontEnd(2):
            pass
    assert raised.value.__context__ is None  # not masked by the clean-up of a worker never started
    assert worker_processes() == []
