"""The node agent runs pods for real: processes, probes, volumes, Services, tokens, restarts."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, utils
from kubernetes.client.exceptions import ApiException

from e2e.nodeagent.images import PROJECT_REPOSITORY
from e2e.nodeagent.logs import LogNotFound, read_log
from e2e.nodeagent.network import ADDRESS_BLOCK_ENV, service_local_address
from tests.e2e.conftest import E2ECluster
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

IMAGE = f"{PROJECT_REPOSITORY}:e2e"
REPO = Path(__file__).resolve().parents[2]
# Containers start a fresh Python per attempt; on a busy 2-core machine that takes seconds.
POD_TIMEOUT = 120.0


def apply(api_client: client.ApiClient, namespace: str, manifest: str) -> None:
    documents = [doc for doc in yaml.safe_load_all(textwrap.dedent(manifest)) if doc]
    utils.create_from_yaml(  # type: ignore[no-untyped-call]
        api_client, yaml_objects=documents, namespace=namespace
    )


def plain(api: client.CoreV1Api, obj: object) -> Any:
    """A client model as the API's JSON (camelCase keys, plain dicts and lists)."""
    return api.api_client.sanitize_for_serialization(obj)


def pod(core_v1: client.CoreV1Api, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return dict(plain(core_v1, core_v1.read_namespaced_pod(name, namespace)))
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def pods(core_v1: client.CoreV1Api, namespace: str, app: str) -> list[dict[str, Any]]:
    listed = core_v1.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    return [dict(plain(core_v1, item)) for item in listed]


def ready(obj: dict[str, Any] | None) -> bool:
    conditions = (obj or {}).get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def container_status(obj: dict[str, Any] | None, name: str | None = None) -> dict[str, Any]:
    statuses = (obj or {}).get("status", {}).get("containerStatuses") or []
    for status in statuses:
        if name is None or status["name"] == name:
            return dict(status)
    return {}


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError as error:
        return 0, str(error)


def pod_log(
    e2e_cluster: E2ECluster, namespace: str, name: str, container: str | None = None
) -> str:
    try:
        return read_log(e2e_cluster.kubeconfig.parent, namespace, name, container)
    except LogNotFound:
        return ""


def test_deployment_is_ready_only_once_its_probe_passes_and_serves_through_its_service(
    api_client: client.ApiClient, core_v1: client.CoreV1Api, namespace: str
) -> None:
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: site}}
        data: {{index.html: hello from a pod}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web}}
        spec:
          replicas: 1
          selector: {{matchLabels: {{app: web}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: web
                image: {IMAGE}
                command: [python, -m, http.server, --bind, $(POD_IP), "8080", -d, /srv]
                env:
                - {{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
                ports: [{{name: http, containerPort: 8080}}]
                readinessProbe:
                  httpGet: {{path: /ready, port: http}}
                  periodSeconds: 1
                volumeMounts: [{{name: site, mountPath: /srv}}]
              volumes: [{{name: site, configMap: {{name: site}}}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: web}}
        spec:
          selector: {{app: web}}
          ports: [{{port: 80, targetPort: http}}]
    """,
    )
    running = wait_until(
        lambda: pods(core_v1, namespace, "web"),
        lambda found: (
            len(found) == 1 and container_status(found[0]).get("state", {}).get("running")
        ),
        "the web container to run",
        POD_TIMEOUT,
    )[0]
    pod_ip = running["status"]["podIP"]
    wait_until(lambda: http_get(f"http://{pod_ip}:8080/"), lambda r: r[0] == 200, "the server up")

    # Serving, but /ready is 404: the readiness probe fails and the pod must not be Ready.
    unready = pod(core_v1, namespace, running["metadata"]["name"])
    assert not ready(unready), unready["status"] if unready else None
    assert http_get(f"http://{pod_ip}:8080/")[1] == "hello from a pod"
    service = plain(core_v1, core_v1.read_namespaced_service("web", namespace))
    address = service_local_address(service["spec"]["clusterIP"])
    assert address is not None
    assert http_get(f"http://{address}:80/")[0] == 0, "no ready endpoint: the proxy refuses"

    core_v1.patch_namespaced_config_map("site", namespace, {"data": {"ready": "yes"}})

    wait_until(
        lambda: pod(core_v1, namespace, running["metadata"]["name"]),
        ready,
        "Ready once the ConfigMap update made the probe pass",
        POD_TIMEOUT,
    )
    assert http_get(f"http://{pod_ip}:8080/ready") == (200, "yes")
    assert wait_until(
        lambda: http_get(f"http://{address}:80/"),
        lambda r: r[0] == 200,
        "the Service to forward to the ready pod",
    ) == (200, "hello from a pod")


def test_statefulset_pods_keep_their_volume_data_across_deletion(
    api_client: client.ApiClient, core_v1: client.CoreV1Api, namespace: str
) -> None:
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: store}}
        spec:
          clusterIP: None
          selector: {{app: store}}
          ports: [{{port: 8080}}]
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {{name: store}}
        spec:
          serviceName: store
          replicas: 3
          selector: {{matchLabels: {{app: store}}}}
          template:
            metadata: {{labels: {{app: store}}}}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: main
                image: {IMAGE}
                command: [sh, -c]
                args:
                - echo "$(POD_NAME) on $(hostname)" >> /data/boots &&
                  exec python -m http.server --bind "$(POD_IP)" 8080 -d /data
                env:
                - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
                - {{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
                readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
                volumeMounts: [{{name: data, mountPath: /data}}]
          volumeClaimTemplates:
          - metadata: {{name: data}}
            spec:
              accessModes: [ReadWriteOnce]
              resources: {{requests: {{storage: 1Gi}}}}
    """,
    )
    members = wait_until(
        lambda: pods(core_v1, namespace, "store"),
        lambda found: len(found) == 3 and all(map(ready, found)),
        "3 ready StatefulSet pods",
        POD_TIMEOUT,
    )
    by_name = {member["metadata"]["name"]: member for member in members}
    for name, member in by_name.items():
        boots = http_get(f"http://{member['status']['podIP']}:8080/boots")
        assert boots == (200, f"{name} on {name}\n")
    claims = plain(core_v1, core_v1.list_namespaced_persistent_volume_claim(namespace))["items"]
    names = sorted(claim["metadata"]["name"] for claim in claims)
    assert names == ["data-store-0", "data-store-1", "data-store-2"]
    assert all(claim["status"]["phase"] == "Bound" for claim in claims)

    old_uid = by_name["store-1"]["metadata"]["uid"]
    core_v1.delete_namespaced_pod("store-1", namespace)

    reborn = wait_until(
        lambda: pod(core_v1, namespace, "store-1"),
        lambda found: found is not None and found["metadata"]["uid"] != old_uid and ready(found),
        "store-1 to come back",
        POD_TIMEOUT,
    )
    assert reborn is not None
    boots = http_get(f"http://{reborn['status']['podIP']}:8080/boots")
    assert boots == (200, "store-1 on store-1\n" * 2), "the new pod sees the old pod's data"


def test_secret_update_reaches_the_mounted_file_of_a_running_process(
    api_client: client.ApiClient, core_v1: client.CoreV1Api, namespace: str
) -> None:
    core_v1.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="creds"), string_data={"key": "v1"}),
    )
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: reader, labels: {{app: reader}}}}
        spec:
          terminationGracePeriodSeconds: 5
          containers:
          - name: main
            image: {IMAGE}
            command: [python, -m, http.server, --bind, $(POD_IP), "8080", -d, /etc/creds]
            env: [{{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}]
            readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
            volumeMounts: [{{name: creds, mountPath: /etc/creds, readOnly: true}}]
          volumes: [{{name: creds, secret: {{secretName: creds}}}}]
    """,
    )
    running = wait_until(
        lambda: pod(core_v1, namespace, "reader"), ready, "the reader pod Ready", POD_TIMEOUT
    )
    assert running is not None
    url = f"http://{running['status']['podIP']}:8080/key"
    assert http_get(url) == (200, "v1")

    core_v1.patch_namespaced_secret(
        "creds", namespace, {"data": {"key": base64.b64encode(b"v2").decode()}}
    )

    assert wait_until(lambda: http_get(url), lambda r: r == (200, "v2"), "the new secret value")
    status = container_status(pod(core_v1, namespace, "reader"))
    assert status["restartCount"] == 0, "the same process saw the update"


def test_a_crashing_container_reaches_crash_loop_back_off_with_its_exit_code(
    api_client: client.ApiClient,
    core_v1: client.CoreV1Api,
    namespace: str,
    e2e_cluster: E2ECluster,
) -> None:
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: crasher}}
        spec:
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "echo about to fail; exit 3"]
    """,
    )
    crashed = wait_until(
        lambda: container_status(pod(core_v1, namespace, "crasher")),
        lambda s: s.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff",
        "CrashLoopBackOff",
        POD_TIMEOUT,
    )
    last = crashed["lastState"]["terminated"]
    assert last["exitCode"] == 3
    assert last["reason"] == "Error"
    assert "back-off" in crashed["state"]["waiting"]["message"]
    assert pod_log(e2e_cluster, namespace, "crasher") == "about to fail\n"
    phase = (pod(core_v1, namespace, "crasher") or {}).get("status", {}).get("phase")
    assert phase == "Running", "a crash-looping pod is Running, as on a kubelet"
    restarted = wait_until(
        lambda: container_status(pod(core_v1, namespace, "crasher")),
        lambda s: s.get("restartCount", 0) >= 1,
        "a restart after the back-off",
        POD_TIMEOUT,
    )
    assert restarted["lastState"]["terminated"]["exitCode"] == 3


def test_a_volume_over_the_checkouts_parent_does_not_hide_the_project_image(
    api_client: client.ApiClient,
    core_v1: client.CoreV1Api,
    namespace: str,
    e2e_cluster: E2ECluster,
) -> None:
    """The image's files are the checkout: an emptyDir on the directory that holds it (a
    checkout in /tmp, and the operator's emptyDir /tmp) must not hide them."""
    parent = str(REPO.parent)
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: covered}}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "nimbus-storage --help >/dev/null && echo runs && ls {parent}"]
            volumeMounts: [{{name: scratch, mountPath: {parent}}}]
          volumes: [{{name: scratch, emptyDir: {{}}}}]
    """,
    )
    wait_until(
        lambda: (pod(core_v1, namespace, "covered") or {}).get("status", {}).get("phase"),
        lambda phase: phase in ("Succeeded", "Failed"),
        "the pod to finish",
        POD_TIMEOUT,
    )
    output = pod_log(e2e_cluster, namespace, "covered")
    assert output.splitlines()[0] == "runs"
    assert output.splitlines()[1:] == [REPO.name], "the emptyDir holds only the checkout's mount"


SERVICE_ACCOUNT_CHECK = """
import sys
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
config.load_incluster_config()
core = client.CoreV1Api()
names = [p.metadata.name for p in core.list_namespaced_pod(sys.argv[1]).items]
print("pods:", ",".join(sorted(names)))
try:
    core.list_namespaced_secret(sys.argv[1])
    print("secrets: allowed")
except ApiException as error:
    print("secrets:", error.status)
"""


def test_a_pod_talks_to_the_api_server_as_its_service_account(
    api_client: client.ApiClient,
    core_v1: client.CoreV1Api,
    namespace: str,
    e2e_cluster: E2ECluster,
) -> None:
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: ServiceAccount
        metadata: {{name: lister}}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {{name: pod-lister}}
        rules: [{{apiGroups: [""], resources: [pods], verbs: [list]}}]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {{name: lister}}
        roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-lister}}
        subjects: [{{kind: ServiceAccount, name: lister, namespace: {namespace}}}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: lister}}
        spec:
          serviceAccountName: lister
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: [python, -c, {json.dumps(SERVICE_ACCOUNT_CHECK)}, {namespace}]
    """,
    )
    done = wait_until(
        lambda: pod(core_v1, namespace, "lister"),
        lambda found: (found or {}).get("status", {}).get("phase") in ("Succeeded", "Failed"),
        "the lister pod to finish",
        POD_TIMEOUT,
    )
    output = pod_log(e2e_cluster, namespace, "lister")
    assert done is not None
    assert done["status"]["phase"] == "Succeeded", output
    assert "pods: lister\n" in output
    assert "secrets: 403\n" in output
    terminated = container_status(done)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")


def test_an_unknown_image_reports_err_image_pull(
    api_client: client.ApiClient, core_v1: client.CoreV1Api, namespace: str
) -> None:
    apply(
        api_client,
        namespace,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: ghost}
        spec:
          containers: [{name: main, image: registry.example/nothing:1.0}]
    """,
    )
    reasons: set[str] = set()

    def waiting_reason() -> str:
        state = container_status(pod(core_v1, namespace, "ghost")).get("state", {})
        reason = str(state.get("waiting", {}).get("reason", ""))
        reasons.add(reason)
        return reason

    wait_until(waiting_reason, lambda r: r == "ImagePullBackOff", "ImagePullBackOff", POD_TIMEOUT)
    assert "ErrImagePull" in reasons
    found = pod(core_v1, namespace, "ghost")
    assert found is not None
    assert found["status"]["phase"] == "Pending"
    events = core_v1.list_namespaced_event(namespace, field_selector="involvedObject.name=ghost")
    messages = [e["message"] for e in plain(core_v1, events)["items"] if e["reason"] == "Failed"]
    assert any("registry.example/nothing:1.0" in message for message in messages), messages


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line names ``text`` (shims name their pod's directory) or whose
    root directory is under a directory naming it (every process of a container, children
    included, is chrooted into its container's root)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            root = os.readlink(entry / "root")
        except OSError:
            continue
        if text.encode() in cmdline or text in root:
            found.append(int(entry.name))
    return found


IGNORE_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"
)


def test_deleting_a_pod_stops_its_processes(
    api_client: client.ApiClient, core_v1: client.CoreV1Api, namespace: str
) -> None:
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: stubborn}}
        spec:
          terminationGracePeriodSeconds: 3
          containers:
          - name: main
            image: {IMAGE}
            # Ignores SIGTERM: only the SIGKILL after the grace period ends it.
            command: [python, -c, {json.dumps(IGNORE_SIGTERM)}]
    """,
    )
    running = wait_until(
        lambda: pod(core_v1, namespace, "stubborn"),
        lambda found: bool(container_status(found).get("state", {}).get("running")),
        "the container to run",
        POD_TIMEOUT,
    )
    assert running is not None
    uid = running["metadata"]["uid"]
    assert _processes_mentioning(uid), "the container's processes run on this machine"

    core_v1.delete_namespaced_pod("stubborn", namespace)

    wait_until(
        lambda: pod(core_v1, namespace, "stubborn"), lambda p: p is None, "pod gone", POD_TIMEOUT
    )
    assert _processes_mentioning(uid) == []


def test_cluster_down_stops_every_container_it_ran(tmp_path: Path) -> None:
    """A second cluster (its own address block) runs a pod, then ``stop`` leaves nothing."""
    other_block = int(os.environ.get(ADDRESS_BLOCK_ENV) or 0) + 1
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from kubernetes import client, config
        from e2e.cluster import Cluster
        cluster = Cluster(Path({str(tmp_path / "run")!r}), address_block={other_block})
        cluster.start()
        try:
            api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
            core = client.CoreV1Api(api)
            body = {{"metadata": {{"name": "sleeper"}}, "spec": {{"containers": [
                {{"name": "main", "image": {IMAGE!r}, "command": ["sleep", "3600"]}}]}}}}
            core.create_namespaced_pod("default", body)
            deadline = time.monotonic() + {POD_TIMEOUT}
            while time.monotonic() < deadline:
                status = core.read_namespaced_pod("sleeper", "default").status
                if status.container_statuses and status.container_statuses[0].state.running:
                    print("running", flush=True)
                    break
                time.sleep(0.25)
        finally:
            cluster.stop()
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "running"
    assert _processes_mentioning(str(tmp_path / "run")) == []
    assert not (tmp_path / "run").exists()


PRINTED_VARIABLES = (
    "MODE",
    "CFG_LEVEL",
    "SECRET",
    "GREETING",
    "ESCAPED",
    "NODE",
    "MEM",
    "API_GW_SERVICE_PORT_HTTP",
    "KUBERNETES_SERVICE_HOST",
)


def test_init_containers_run_first_and_the_environment_is_built_as_kubernetes_does(
    api_client: client.ApiClient,
    core_v1: client.CoreV1Api,
    namespace: str,
    e2e_cluster: E2ECluster,
) -> None:
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: ConfigMap
        metadata: {{name: settings}}
        data: {{mode: fast, LEVEL: debug}}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {{name: token}}
        stringData: {{value: s3cr3t}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: api-gw}}
        spec:
          selector: {{app: none}}
          ports: [{{name: http, port: 8080}}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: env, labels: {{tier: batch}}}}
        spec:
          restartPolicy: Never
          initContainers:
          - name: first
            image: {IMAGE}
            command: [sh, -c, "echo first > /work/order"]
            volumeMounts: [{{name: work, mountPath: /work}}]
          - name: second
            image: {IMAGE}
            command: [sh, -c, "echo second >> /work/order"]
            volumeMounts: [{{name: work, mountPath: /work}}]
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c]
            args:
            - cat /work/order; cat /info/labels; echo; hostname;
              env | grep -E '^({"|".join(PRINTED_VARIABLES)})=' | sort
            env:
            - {{name: MODE, valueFrom: {{configMapKeyRef: {{name: settings, key: mode}}}}}}
            - {{name: SECRET, valueFrom: {{secretKeyRef: {{name: token, key: value}}}}}}
            - {{name: GREETING, value: "mode $(MODE) on $(NODE)"}}
            - {{name: ESCAPED, value: "$$(MODE)"}}
            - {{name: NODE, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}
            - name: MEM
              valueFrom: {{resourceFieldRef: {{resource: limits.memory, divisor: 1Mi}}}}
            envFrom: [{{prefix: CFG_, configMapRef: {{name: settings}}}}]
            resources: {{limits: {{memory: 64Mi}}}}
            volumeMounts:
            - {{name: work, mountPath: /work}}
            - {{name: info, mountPath: /info}}
          volumes:
          - {{name: work, emptyDir: {{}}}}
          - name: info
            downwardAPI: {{items: [{{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}]}}
    """,
    )
    done = wait_until(
        lambda: pod(core_v1, namespace, "env"),
        lambda found: (found or {}).get("status", {}).get("phase") in ("Succeeded", "Failed"),
        "the env pod to finish",
        POD_TIMEOUT,
    )
    assert done is not None
    output = pod_log(e2e_cluster, namespace, "env", "main")
    assert done["status"]["phase"] == "Succeeded", output
    node = done["spec"]["nodeName"]
    lines = output.splitlines()
    assert lines[:2] == ["first", "second"], "init containers ran in order, before main"
    labels_end = lines.index("env")  # the hostname follows the labels file
    assert 'tier="batch"' in lines[2:labels_end]
    service_port = "API_GW_SERVICE_PORT_HTTP=8080"
    assert lines[labels_end + 1 :] == sorted(
        [
            service_port,
            "CFG_LEVEL=debug",
            "ESCAPED=$(MODE)",
            "GREETING=mode fast on $(NODE)",  # NODE is defined after GREETING: left as written
            "KUBERNETES_SERVICE_HOST=127.0.0.1",
            "MEM=64",
            "MODE=fast",
            f"NODE={node}",
            "SECRET=s3cr3t",
        ]
    )
    init = done["status"]["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in init] == ["Completed", "Completed"]


def test_a_failing_liveness_probe_restarts_the_container(
    api_client: client.ApiClient, core_v1: client.CoreV1Api, namespace: str
) -> None:
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: flaky}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {IMAGE}
            command: [sh, -c, "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600"]
            livenessProbe:
              exec: {{command: [cat, /tmp/healthy]}}
              periodSeconds: 1
              failureThreshold: 2
    """,
    )
    restarted = wait_until(
        lambda: container_status(pod(core_v1, namespace, "flaky")),
        lambda s: s.get("restartCount", 0) >= 1,
        "a restart after the liveness probe failed",
        POD_TIMEOUT,
    )
    assert restarted["lastState"]["terminated"]["exitCode"] == 137
    events = core_v1.list_namespaced_event(namespace, field_selector="involvedObject.name=flaky")
    items = plain(core_v1, events)["items"]
    assert any(e["reason"] == "Killing" and "liveness" in e["message"] for e in items), items


def test_a_restarted_node_agent_adopts_its_running_pods(
    api_client: client.ApiClient,
    core_v1: client.CoreV1Api,
    namespace: str,
    e2e_cluster: E2ECluster,
) -> None:
    if e2e_cluster.cluster is None:
        pytest.skip("reusing an external cluster (NIMBUS_KUBECONFIG): its agent is not ours")
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: survivor}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {IMAGE}
            command: [python, -m, http.server, --bind, $(POD_IP), "8080"]
            env: [{{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}]
            readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
    """,
    )
    before = wait_until(
        lambda: pod(core_v1, namespace, "survivor"), ready, "survivor Ready", POD_TIMEOUT
    )
    assert before is not None
    processes = _processes_mentioning(before["metadata"]["uid"])

    e2e_cluster.cluster.restart_component("node-agent")

    assert _processes_mentioning(before["metadata"]["uid"]) == processes, "left running"
    url = f"http://{before['status']['podIP']}:8080/"
    assert http_get(url)[0] == 200
    # The new agent probes the adopted container again: Ready, same start, no restart.
    adopted = wait_until(
        lambda: pod(core_v1, namespace, "survivor"), ready, "Ready after adoption", POD_TIMEOUT
    )
    status = container_status(adopted)
    assert status["restartCount"] == 0
    started = container_status(before)["state"]["running"]["startedAt"]
    assert status["state"]["running"]["startedAt"] == started
    core_v1.delete_namespaced_pod("survivor", namespace)
    wait_until(
        lambda: pod(core_v1, namespace, "survivor"), lambda p: p is None, "gone", POD_TIMEOUT
    )
    assert _processes_mentioning(before["metadata"]["uid"]) == [], "the new agent stopped them"


NAME_CHECK = """
import sys, urllib.request
for url in sys.argv[1:]:
    with urllib.request.urlopen(url, timeout=10) as response:
        print(url, response.status, response.read().decode().strip())
"""


def test_pods_reach_pods_and_services_by_their_cluster_names(
    api_client: client.ApiClient,
    core_v1: client.CoreV1Api,
    namespace: str,
    e2e_cluster: E2ECluster,
) -> None:
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: Service
        metadata: {{name: peers}}
        spec:
          clusterIP: None
          selector: {{app: peer}}
          ports: [{{port: 8080}}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {{name: front}}
        spec:
          selector: {{app: peer}}
          ports: [{{port: 80, targetPort: 8080}}]
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {{name: peer}}
        spec:
          serviceName: peers
          replicas: 2
          selector: {{matchLabels: {{app: peer}}}}
          template:
            metadata: {{labels: {{app: peer}}}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: main
                image: {IMAGE}
                command: [sh, -c]
                args: [hostname > /srv/id && exec python -m http.server -b "$POD_IP" 8080 -d /srv]
                env: [{{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}]
                readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
                volumeMounts: [{{name: srv, mountPath: /srv}}]
              volumes: [{{name: srv, emptyDir: {{}}}}]
    """,
    )
    wait_until(
        lambda: pods(core_v1, namespace, "peer"),
        lambda found: len(found) == 2 and all(map(ready, found)),
        "2 ready peers",
        POD_TIMEOUT,
    )
    urls = [
        "http://peer-0.peers:8080/id",
        f"http://peer-1.peers.{namespace}.svc.cluster.local:8080/id",
        "http://front/id",
        f"http://front.{namespace}.svc/id",
    ]
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: client}}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: [python, -c, {json.dumps(NAME_CHECK)}, {", ".join(urls)}]
    """,
    )
    done = wait_until(
        lambda: pod(core_v1, namespace, "client"),
        lambda found: (found or {}).get("status", {}).get("phase") in ("Succeeded", "Failed"),
        "the client pod to finish",
        POD_TIMEOUT,
    )
    output = pod_log(e2e_cluster, namespace, "client")
    assert done is not None
    assert done["status"]["phase"] == "Succeeded", output
    lines = output.splitlines()
    assert lines[0] == f"{urls[0]} 200 peer-0"
    assert lines[1] == f"{urls[1]} 200 peer-1"
    assert lines[2] in (f"{urls[2]} 200 peer-0", f"{urls[2]} 200 peer-1")
    assert lines[3] in (f"{urls[3]} 200 peer-0", f"{urls[3]} 200 peer-1")


FILL_DISK = """
import errno
written = 0
try:
    with open("/data/fill", "wb") as handle:
        while True:
            handle.write(b"x" * 65536)
            handle.flush()
            written += 65536
except OSError as error:
    print("ENOSPC" if error.errno == errno.ENOSPC else error, written // 1048576)
"""


def test_a_sized_claim_fills_up_and_its_volume_is_deleted_with_the_claim(
    api_client: client.ApiClient,
    core_v1: client.CoreV1Api,
    namespace: str,
    e2e_cluster: E2ECluster,
) -> None:
    apply(
        api_client,
        namespace,
        f"""
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {{name: small}}
        spec:
          storageClassName: nimbus-local-sized
          accessModes: [ReadWriteOnce]
          resources: {{requests: {{storage: 8Mi}}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {{name: filler}}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: {IMAGE}
            command: [python, -c, {json.dumps(FILL_DISK)}]
            volumeMounts: [{{name: data, mountPath: /data}}]
          volumes: [{{name: data, persistentVolumeClaim: {{claimName: small}}}}]
    """,
    )
    done = wait_until(
        lambda: pod(core_v1, namespace, "filler"),
        lambda found: (found or {}).get("status", {}).get("phase") in ("Succeeded", "Failed"),
        "the filler pod to finish",
        POD_TIMEOUT,
    )
    assert done is not None
    assert pod_log(e2e_cluster, namespace, "filler") == "ENOSPC 8\n"
    claim = plain(core_v1, core_v1.read_namespaced_persistent_volume_claim("small", namespace))
    volume_name = claim["spec"]["volumeName"]
    volume = plain(core_v1, core_v1.read_persistent_volume(volume_name))
    path = Path(volume["spec"]["local"]["path"])
    assert (path / "fill").stat().st_size == 8 * 1048576
    assert volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][
        0
    ]["values"] == [done["spec"]["nodeName"]]

    core_v1.delete_namespaced_pod("filler", namespace)
    core_v1.delete_namespaced_persistent_volume_claim("small", namespace)

    def volume_exists() -> bool:
        try:
            core_v1.read_persistent_volume(volume_name)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    wait_until(volume_exists, lambda exists: not exists, "the Released volume deleted", POD_TIMEOUT)
    assert not path.exists(), "reclaim policy Delete removes the data"
