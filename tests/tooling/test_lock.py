"""The stack-pair lock CI and the failover command share (erdr/lock.py), on each backend.

The file lock is raced by real processes; the blob lease runs against a fake Blob endpoint on
127.0.0.1 that answers as Lease Blob does (tests/fake_blob.py). The race harness has a control: a
check-then-create lock, run through the same harness, lets two processes in, so the harness does
make them overlap.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from erdr import lock
from erdr.lock import BlobLock, FileLock, LockError, LockHeld, LockInfo, LockRefused, stack_pair_lock
from erdr.stackfiles import PROJECT_DIR
from tests import fake_blob
from tests.fake_blob import ACCOUNT, CONTAINER, READER_TOKEN, SAS_SIG, TOKEN, FakeBlobService

INFO = LockInfo("ci run 7", "deploy abc123", "2025-01-01T00:00:00+00:00", "prod+dr")
OTHER = LockInfo("alice@laptop", "failover", "2025-01-01T00:05:00+00:00", "prod+dr")


# --- the key and the place -------------------------------------------------------------------------


def test_the_key_is_the_two_short_names_whatever_the_org() -> None:
    key = lock.lock_key("prod", "dr")
    assert key == lock.lock_key("acme/prod", "organization/expressroute-dr/dr")
    assert key.startswith("prod+dr-")
    assert key != lock.lock_key("dr", "prod")
    assert "/" not in lock.lock_key("a b/../x", "y")
    with pytest.raises(LockError, match="two different stacks"):
        lock.lock_key("acme/prod", "other/prod")


@pytest.mark.parametrize(
    "text",
    ["prod=a", "prod=a,dr=", "prod=a,db=b", "prod:a,dr:b", ""],
)
def test_stacks_argument_is_checked(text: str) -> None:
    with pytest.raises(LockError, match="--stacks"):
        lock.parse_stacks(text)


def test_backend_is_chosen_as_the_cli_chooses_it(tmp_path: Path) -> None:
    home = tmp_path / "pulumi-home"
    home.mkdir()
    env = {"PULUMI_HOME": str(home)}
    with pytest.raises(LockError, match="pulumi login"):
        lock.current_backend(env, tmp_path)
    (home / "credentials.json").write_text(json.dumps({"current": "https://api.pulumi.com", "accessTokens": {}}))
    assert lock.current_backend(env, tmp_path) == "https://api.pulumi.com"
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\nbackend:\n  url: file:///srv/state\n")
    assert lock.current_backend(env, tmp_path) == "file:///srv/state"
    assert lock.current_backend({**env, "PULUMI_BACKEND_URL": "azblob://state"}, tmp_path) == "azblob://state"


def test_a_hostile_project_file_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    """Pulumi.yaml read as every other file is (erdr/safe_yaml.py): duplicate keys (which backend
    would the CLI pick?) and an alias bomb stop with LockError naming the file, never MemoryError."""
    env = {"PULUMI_HOME": str(tmp_path)}
    project = tmp_path / "Pulumi.yaml"
    project.write_text("name: x\nbackend:\n  url: file:///a\nbackend:\n  url: file:///b\n")
    with pytest.raises(LockError, match=r"Pulumi\.yaml"):
        lock.current_backend(env, tmp_path)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    project.write_text(bomb + "backend: {url: file:///c}\n")
    with pytest.raises(LockError, match=r"Pulumi\.yaml"):
        lock.current_backend(env, tmp_path)


def test_each_backend_gets_its_lock(tmp_path: Path) -> None:
    key = lock.lock_key("prod", "dr")
    local = lock.lock_for("prod", "dr", backend=f"file://{tmp_path}", environ={})
    assert isinstance(local, FileLock)
    assert local.path == tmp_path / ".pulumi" / "erdr-locks" / f"{key}.lock"
    assert lock._file_root("file://./state?no_tmp_dir=true") == Path("state")
    assert lock._file_root("file://~") == Path.home()
    assert lock._file_root("file://~/pulumi") == Path.home() / "pulumi"

    blob = lock.lock_for(
        "acme/prod", "acme/dr", backend="azblob://state", environ={"AZURE_STORAGE_ACCOUNT": "acct"}, credential=object()
    )
    assert isinstance(blob, BlobLock)
    assert blob.blob_url == f"https://acct.blob.core.windows.net/state/.pulumi/erdr-locks/{key}.lock"

    sovereign = lock.lock_for(
        "prod", "dr", backend="azblob://state?storage_account=acct&domain=blob.core.chinacloudapi.cn", environ={},
        credential=object(),
    )  # fmt: skip
    assert isinstance(sovereign, BlobLock)
    assert sovereign.blob_url.startswith("https://acct.blob.core.chinacloudapi.cn/state/")

    with pytest.raises(LockError, match="ERDR_LOCK_URL"):
        lock.lock_for("prod", "dr", backend="https://api.pulumi.com", environ={})
    cloud = lock.lock_for(
        "prod", "dr", backend="https://api.pulumi.com", environ={"ERDR_LOCK_URL": "azblob://locks?storage_account=acct"},
        credential=object(),
    )  # fmt: skip
    assert isinstance(cloud, BlobLock)
    assert cloud.blob_url.startswith("https://acct.blob.core.windows.net/locks/.pulumi/erdr-locks/")

    with pytest.raises(LockError, match="ERDR_LOCK_URL"):
        lock.lock_for("prod", "dr", backend="s3://bucket", environ={})
    with pytest.raises(LockError, match="storage account"):
        lock.lock_for("prod", "dr", backend="azblob://state", environ={}, credential=object())
    with pytest.raises(LockError, match="unknown parameter"):
        lock.lock_for("prod", "dr", backend="azblob://state?account=x", environ={}, credential=object())


def test_plain_http_only_to_loopback() -> None:
    with pytest.raises(LockError, match="loopback"):
        BlobLock("http://acct.blob.core.windows.net/state/x.lock", sas="sig=x")
    BlobLock("http://127.0.0.1:1/acct/state/x.lock", sas="sig=x")


# --- the file lock -----------------------------------------------------------------------------------


def test_file_lock_admits_one_holder_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "pair.lock"
    first, second = FileLock(path), FileLock(path)
    assert first.status() is None
    first.acquire(INFO, "token-a")
    assert second.status() == INFO
    with pytest.raises(LockHeld, match=r"locked by ci run 7 for deploy abc123, since 2025-01-01") as held:
        second.acquire(OTHER, "token-b")
    assert held.value.info == INFO
    first.acquire(INFO, "token-a")  # the same token takes it back (a resumed run)
    with pytest.raises(LockRefused, match="not held with this token"):
        second.release("token-b")
    assert first.status() == INFO
    assert first.release("token-a") == INFO
    assert first.status() is None
    with pytest.raises(LockRefused, match="not held"):
        first.release("token-a")
    second.acquire(OTHER, "token-b")
    assert first.release(None, force=True) == OTHER
    assert second.status() is None


def test_a_half_written_lock_file_counts_as_held(tmp_path: Path) -> None:
    path = tmp_path / "pair.lock"
    path.write_text("")
    with pytest.raises(LockHeld, match="could not be read"):
        FileLock(path).acquire(INFO, "t")
    status = FileLock(path).status()
    assert status is not None and "unreadable" in status.holder


class RacyFileLock(FileLock):
    """The control: check, then create; the gap is where two racers both get in."""

    def _create(self, body: bytes) -> None:
        if self.path.exists():
            raise FileExistsError(self.path)
        time.sleep(0.05)
        self.path.write_bytes(body)


def _racer(kind: str, path: str, start: Any, wins: Any, token: str) -> None:
    cls = RacyFileLock if kind == "racy" else FileLock
    start.wait()
    try:
        cls(Path(path)).acquire(INFO, token)
    except LockHeld:
        return
    with wins.get_lock():
        wins.value += 1


def race(kind: str, tmp_path: Path, racers: int = 6, rounds: int = 8) -> list[int]:
    # fork: the racers start in milliseconds, so they meet at the gate.
    ctx = multiprocessing.get_context("fork")
    outcomes: list[int] = []
    for n in range(rounds):
        path = tmp_path / f"round-{n}.lock"
        start, wins = ctx.Event(), ctx.Value("i", 0)
        procs = [ctx.Process(target=_racer, args=(kind, str(path), start, wins, f"t{n}-{i}")) for i in range(racers)]
        for p in procs:
            p.start()
        time.sleep(0.3)  # all started and waiting at the gate
        start.set()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        outcomes.append(wins.value)
    return outcomes


def test_processes_racing_for_the_file_lock_get_one_winner(tmp_path: Path) -> None:
    assert race("atomic", tmp_path) == [1] * 8


def test_control_a_check_then_create_lock_loses_the_race(tmp_path: Path) -> None:
    assert max(race("racy", tmp_path, rounds=3)) > 1


# --- the blob lease ------------------------------------------------------------------------------------


class Credential:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> Any:
        self.scopes.append(scopes)
        return type("AccessToken", (), {"token": self.token, "expires_on": 2**31})()


@pytest.fixture
def blob() -> Iterator[FakeBlobService]:
    with fake_blob.serve(FakeBlobService()) as service:
        yield service


def blob_env(service: FakeBlobService, **extra: str) -> dict[str, str]:
    host = service.url.removeprefix("http://")
    return {
        "AZURE_STORAGE_ACCOUNT": ACCOUNT,
        "AZURE_STORAGE_DOMAIN": host,
        "AZURE_STORAGE_PROTOCOL": "http",
        "AZURE_STORAGE_IS_LOCAL_EMULATOR": "true",
        **extra,
    }


def blob_lock(service: FakeBlobService, credential: Any = None, **extra: str) -> BlobLock:
    made = lock.lock_for(
        "acme/prod",
        "acme/dr",
        backend=f"azblob://{CONTAINER}",
        environ=blob_env(service, **extra),
        credential=credential or Credential(),
    )
    assert isinstance(made, BlobLock)
    made.sleep = lambda _s: None
    return made


def test_blob_lease_admits_one_holder_and_names_it(blob: FakeBlobService) -> None:
    mine, theirs = blob_lock(blob), blob_lock(blob)
    assert mine.status() is None
    mine.acquire(INFO, "11111111-1111-1111-1111-111111111111")
    (stored,) = blob.blobs.values()
    assert stored.lease_state == "leased"
    assert theirs.status() == INFO
    with pytest.raises(LockHeld, match="locked by ci run 7 for deploy abc123") as held:
        theirs.acquire(OTHER, "22222222-2222-2222-2222-222222222222")
    assert held.value.info == INFO
    mine.acquire(INFO, "11111111-1111-1111-1111-111111111111")  # same ID: Azure renews
    with pytest.raises(LockRefused, match="not held with this token"):
        theirs.release("22222222-2222-2222-2222-222222222222")
    assert mine.release("11111111-1111-1111-1111-111111111111") == INFO
    assert stored.lease_state == "available" and mine.status() is None
    theirs.acquire(OTHER, "22222222-2222-2222-2222-222222222222")
    assert mine.release(None, force=True) == OTHER  # break, period 0
    assert stored.lease_state == "broken" and theirs.status() is None
    mine.acquire(INFO, "33333333-3333-3333-3333-333333333333")  # a broken lease can be taken
    assert mine.status() == INFO


def test_blob_requests_are_what_azure_documents(blob: FakeBlobService) -> None:
    credential = Credential()
    blob_lock(blob, credential).acquire(INFO, "11111111-1111-1111-1111-111111111111")
    puts = [r for r in blob.requests if r.method == "PUT"]
    assert [r.query.get("comp") for r in puts] == [None, "lease", "metadata"]
    create, lease, meta = puts
    assert create.headers["if-none-match"] == "*" and create.headers["x-ms-blob-type"] == "BlockBlob"
    assert lease.headers["x-ms-lease-action"] == "acquire"
    assert lease.headers["x-ms-lease-duration"] == "-1"
    assert meta.headers["x-ms-lease-id"] == "11111111-1111-1111-1111-111111111111"
    assert meta.headers["x-ms-meta-holder"] == "ci run 7"
    for r in blob.requests:
        assert r.path == f"/{ACCOUNT}/{CONTAINER}/.pulumi/erdr-locks/{lock.lock_key('prod', 'dr')}.lock"
        assert r.headers["authorization"] == f"Bearer {TOKEN}"
        assert r.headers["x-ms-version"] == "2021-12-02"
    assert set(credential.scopes) == {("https://storage.azure.com/.default",)}


def test_a_sas_token_replaces_entra_id_and_is_never_printed(blob: FakeBlobService) -> None:
    sas = f"sv=2021-12-02&sp=rw&sig={SAS_SIG}"
    held = blob_lock(blob, AZURE_STORAGE_SAS_TOKEN=sas)
    held.credential = None
    held.acquire(INFO, "11111111-1111-1111-1111-111111111111")
    assert all("authorization" not in r.headers and r.query["sig"] == SAS_SIG for r in blob.requests)
    with pytest.raises(LockHeld) as refused:
        blob_lock(blob, AZURE_STORAGE_SAS_TOKEN=sas).acquire(OTHER, "22222222-2222-2222-2222-222222222222")
    assert SAS_SIG not in str(refused.value)


def test_unicode_and_control_characters_in_the_holder_survive_as_one_line(blob: FakeBlobService) -> None:
    info = lock.new_info("prod", "dr", "Zoë\r\nX-Injected: 1", "fail\x00over ✓", {})
    blob_lock(blob).acquire(info, "11111111-1111-1111-1111-111111111111")
    assert blob_lock(blob).status() == info
    assert info.holder == "Zoë  X-Injected: 1" and info.purpose == "fail over ✓"


def test_throttling_and_server_errors_are_retried(blob: FakeBlobService) -> None:
    blob.fail_next = [503, 429]
    blob_lock(blob).acquire(INFO, "11111111-1111-1111-1111-111111111111")
    assert blob_lock(blob).status() == INFO
    blob.fail_next = [500, 500, 500]
    with pytest.raises(LockError, match="HTTP 500"):
        blob_lock(blob).status()


def test_a_reader_identity_cannot_take_the_lock_and_is_told_what_role_it_needs(blob: FakeBlobService) -> None:
    blob_lock(blob).acquire(INFO, "11111111-1111-1111-1111-111111111111")
    reader = blob_lock(blob, Credential(READER_TOKEN))
    assert reader.status() == INFO  # Storage Blob Data Reader can see who holds it
    with pytest.raises(LockError, match="Storage Blob Data Contributor"):
        reader.acquire(OTHER, "22222222-2222-2222-2222-222222222222")
    with pytest.raises(LockError, match="403 AuthenticationFailed"):
        blob_lock(blob, Credential("wrong")).status()


def test_an_unreachable_endpoint_fails_closed() -> None:
    dead = BlobLock("http://127.0.0.1:9/acct/state/x.lock", sas="sig=x", sleep=lambda _s: None)
    with pytest.raises(LockError, match="unreachable"):
        dead.acquire(INFO, "11111111-1111-1111-1111-111111111111")


def test_a_failing_credential_fails_closed(blob: FakeBlobService) -> None:
    class Broken:
        def get_token(self, *_: str, **__: Any) -> Any:
            raise RuntimeError("no az login")

    with pytest.raises(LockError, match=r"no Entra ID token.*no az login"):
        blob_lock(blob, Broken()).status()


def test_threads_racing_for_the_lease_get_one_winner(blob: FakeBlobService) -> None:
    wins: list[str] = []
    gate = threading.Barrier(6)

    def take(i: int) -> None:
        contender = blob_lock(blob)
        gate.wait()
        try:
            contender.acquire(INFO, f"{i}0000000-0000-0000-0000-000000000000")
        except LockHeld:
            return
        wins.append(str(i))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(wins) == 1


# --- the library API and the command ---------------------------------------------------------------------


def test_context_manager_releases_on_error_and_refuses_a_second_holder(tmp_path: Path) -> None:
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path}"}
    with (
        pytest.raises(RuntimeError, match="boom"),
        stack_pair_lock("prod", "dr", purpose="failover", environ=env) as held,
    ):
        assert held.info.purpose == "failover"
        with pytest.raises(LockHeld, match="for failover"), stack_pair_lock("acme/prod", "acme/dr", environ=env):
            pytest.fail("entered a held lock")
        raise RuntimeError("boom")
    assert lock.lock_for("prod", "dr", environ=env).status() is None


def test_a_token_file_takes_the_lock_back_after_an_interruption(tmp_path: Path) -> None:
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path}"}
    token_file = tmp_path / "run.token"
    pair = lock.lock_for("prod", "dr", environ=env)
    pair.acquire(INFO, "interrupted-run")
    lock.write_token(token_file, "interrupted-run")
    with stack_pair_lock("prod", "dr", token_file=token_file, environ=env) as held:
        assert held.token == "interrupted-run"
    assert pair.status() is None and not token_file.exists()


def cli(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    said: list[str] = []
    return lock.run(args, environ=env, say=said.append), "\n".join(said)


def test_cli_acquire_status_release_and_exit_codes(tmp_path: Path) -> None:
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path}", "GITHUB_RUN_ID": "42", "GITHUB_REPOSITORY": "o/r"}
    stacks = ["--stacks", "prod=acme/prod,dr=acme/dr"]
    ci_token, op_token = str(tmp_path / "ci.token"), str(tmp_path / "op.token")
    assert cli(["status", *stacks], env) == (0, f"free ({lock.lock_for('prod', 'dr', environ=env).where})")
    code, out = cli(["acquire", *stacks, "--purpose", "deploy abc", "--token-file", ci_token], env)
    assert code == 0 and "GitHub Actions https://github.com/o/r/actions/runs/42 for deploy abc" in out
    code, out = cli(["status", *stacks], env)
    assert code == 1 and out.startswith("locked by GitHub Actions")
    code, out = cli(["acquire", "--stacks", "prod=prod,dr=dr", "--holder", "alice", "--token-file", op_token], env)
    assert code == 1 and "locked by GitHub Actions https://github.com/o/r/actions/runs/42 for deploy abc" in out
    code, out = cli(["release", *stacks, "--token-file", op_token], env)
    assert code == 1 and "nothing was released" in out
    code, out = cli(["release", *stacks, "--token-file", ci_token], env)
    assert code == 0 and not Path(ci_token).exists()
    assert cli(["status", *stacks], env)[0] == 0
    code, out = cli(["acquire", *stacks, "--lock-url", "s3://bucket"], env)
    assert code == 2 and "expected file://" in out


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    env = {**os.environ, "PULUMI_BACKEND_URL": f"file://{tmp_path}"}
    args = [sys.executable, "-m", "erdr.lock", "acquire", "--stacks", "prod=prod,dr=dr", "--token-file", "t"]
    env["PYTHONPATH"] = str(PROJECT_DIR)
    done = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / ".pulumi" / "erdr-locks").is_dir()
    again = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 0, "the same token file takes the lock back"
    other = [*args[:-1], "other.token"]
    refused = subprocess.run(other, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 1 and "locked by" in refused.stdout
