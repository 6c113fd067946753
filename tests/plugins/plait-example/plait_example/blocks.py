"""The example integration's blocks: credentials for the (imaginary) Example service, and a
bucket of files that uses them."""

from __future__ import annotations

from pydantic import SecretStr

from plait.blocks import CheckResult, CredentialsBlock, LocalFileSystem, WritableFileSystem
from plait.blocks.block import instance_list

DOCS = "https://plait.dev/docs/integrations/example"


class ExampleCredentials(CredentialsBlock):
    """An API key for the Example service, and the service's base URL."""

    _documentation_url = f"{DOCS}#examplecredentials"
    _code_example = """
        from plait_example import ExampleCredentials

        ExampleCredentials(endpoint="https://api.example.com", api_key="ex-...").save("prod")
        print(ExampleCredentials.load("prod").check())
    """

    endpoint: str
    api_key: SecretStr

    def check(self) -> CheckResult:
        """``GET {endpoint}/whoami`` with the key as a bearer token: 200 means it works."""
        return CheckResult.measure(self._whoami)

    def _whoami(self) -> str:
        import httpx

        url = f"{self.endpoint.rstrip('/')}/whoami"
        response = httpx.get(
            url,
            headers={"Authorization": f"Bearer {self.api_key.get_secret_value()}"},
            timeout=10,
        )
        if response.status_code == 401:
            raise PermissionError(
                f"{url} refused the API key (401 Unauthorized); save the block again with a "
                "valid key"
            )
        response.raise_for_status()
        return f"authenticated at {url}: {response.text.strip()[:200]}"


class ExampleBucket(WritableFileSystem):
    """Files in an Example bucket (here: a local folder), reached with ExampleCredentials."""

    _documentation_url = f"{DOCS}#examplebucket"
    _code_example = """
        from plait_example import ExampleBucket, ExampleCredentials

        bucket = ExampleBucket(folder="/data/bucket", credentials=ExampleCredentials.load("prod"))
        bucket.write_path("reports/today.txt", b"hello")
        print(bucket.read_path("reports/today.txt"))
    """

    folder: str
    credentials: ExampleCredentials

    def _files(self) -> LocalFileSystem:
        return LocalFileSystem(basepath=self.folder)

    def read_path(self, path: str) -> bytes:
        return self._files().read_path(path)

    def write_path(self, path: str, content: bytes) -> str:
        return self._files().write_path(path, content)

    def exists(self, path: str) -> bool:
        return self._files().exists(path)

    def delete_path(self, path: str) -> None:
        self._files().delete_path(path)

    @instance_list
    def list(self, path: str = "") -> list[str]:
        return self._files().list(path)
