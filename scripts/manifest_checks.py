"""Checks of the rendered Kubernetes base that the OpenAPI schemas cannot express.

Usage: manifest_checks.py BASE.yaml WITH_COMPONENTS.yaml (outputs of `kubectl kustomize`).
Exits 1 with one line per problem.
"""

import sys

import yaml

# The longest bounded request (deploy/kubernetes/deployment.yaml): a /users call,
# 2 x (10 s per exchange + 5 s of rate-limit waits).
LONGEST_BOUNDED_REQUEST_SECONDS = 30
BASE_KINDS = {"ConfigMap", "Secret", "Service", "Deployment", "PodDisruptionBudget",
              "HorizontalPodAutoscaler"}

problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


def load(path):
    with open(path, encoding="utf-8") as file:
        return [doc for doc in yaml.safe_load_all(file) if doc]


def one(objects, kind):
    found = [o for o in objects if o["kind"] == kind]
    check(len(found) == 1, f"expected one {kind}, found {len(found)}")
    return found[0] if found else {}


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_base(objects):
    kinds = {o["kind"] for o in objects}
    check(kinds == BASE_KINDS, f"base kinds {sorted(kinds)}, expected {sorted(BASE_KINDS)}")
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    deployment = one(objects, "Deployment")
    spec = deployment.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
    check(spec.get("replicas") == 2, "Deployment: replicas is not 2")
    check(selects(spec.get("selector", {}).get("matchLabels"), labels),
          "Deployment: the selector does not match the pod labels")
    containers = pod.get("containers", [])
    check(len(containers) == 1, f"Deployment: {len(containers)} containers, expected 1")
    container = containers[0] if containers else {}
    ports = {p.get("name") for p in container.get("ports", [])}

    probes = {name: container.get(name, {}).get("httpGet", {}) for name in
              ("livenessProbe", "readinessProbe", "startupProbe")}
    check(probes["livenessProbe"].get("path") == "/-/healthz", "liveness probe is not /-/healthz")
    check(probes["readinessProbe"].get("path") == "/-/ready", "readiness probe is not /-/ready")
    check(bool(probes["startupProbe"].get("path")), "no startup probe")
    for name, probe in probes.items():
        check(probe.get("port") in ports, f"{name}: port {probe.get('port')} is not a container port")

    pod_security = pod.get("securityContext", {})
    security = container.get("securityContext", {})
    check(pod_security.get("runAsNonRoot") is True, "pod: runAsNonRoot is not true")
    check(pod_security.get("runAsUser") == 65532, "pod: runAsUser is not 65532")
    check(pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault",
          "pod: seccomp profile is not RuntimeDefault")
    check(security.get("readOnlyRootFilesystem") is True, "container: root filesystem is writable")
    check(security.get("allowPrivilegeEscalation") is False, "container: privilege escalation allowed")
    check(security.get("capabilities", {}).get("drop") == ["ALL"], "container: capabilities not all dropped")
    check(bool(pod.get("topologySpreadConstraints")), "no topology spread constraints")
    resources = container.get("resources", {})
    check(bool(resources.get("requests", {}).get("memory")) and bool(resources.get("limits", {}).get("memory")),
          "container: memory request or limit missing")

    env_maps = [e["configMapRef"]["name"] for e in container.get("envFrom", []) if "configMapRef" in e]
    check(len(env_maps) == 1 and ("ConfigMap", env_maps[0]) in names,
          "the env ConfigMap referenced by the Deployment is not rendered")
    env = next((o.get("data", {}) for o in objects
                if o["kind"] == "ConfigMap" and env_maps and o["metadata"]["name"] == env_maps[0]), {})
    mounts = {m["name"]: m for m in container.get("volumeMounts", [])}
    secret_volumes = [v for v in pod.get("volumes", []) if "secret" in v]
    check(len(secret_volumes) == 1, "config.json is not mounted from a Secret")
    for volume in secret_volumes:
        secret_name = volume["secret"]["secretName"]
        secret = next((o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == secret_name), {})
        check("config.json" in secret.get("data", {}), f"Secret {secret_name} holds no config.json")
        mount = mounts.get(volume["name"], {})
        check(mount.get("readOnly") is True, "the config volume is not mounted read-only")
        check(mount.get("mountPath") == env.get("SERVICE_CONFIG_PATH"),
              "SERVICE_CONFIG_PATH is not where config.json is mounted")
    check(env.get("SERVICE_CONFIG_FILE_NAME") == "config.json", "SERVICE_CONFIG_FILE_NAME is not config.json")
    check(env.get("HTTP_PORT") == str(next((p["containerPort"] for p in container.get("ports", [])
                                            if p.get("name") == "http"), "")),
          "HTTP_PORT is not the container port")
    delay = int(env.get("DELAY_SHUTDOWN_SECONDS", "10"))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(grace > delay + LONGEST_BOUNDED_REQUEST_SECONDS,
          f"terminationGracePeriodSeconds {grace} <= DELAY_SHUTDOWN_SECONDS {delay} + "
          f"{LONGEST_BOUNDED_REQUEST_SECONDS} s")

    service = one(objects, "Service")
    check(selects(service.get("spec", {}).get("selector"), labels), "Service does not select the pods")
    for port in service.get("spec", {}).get("ports", []):
        check(port.get("targetPort") in ports, f"Service port {port.get('name')} targets no container port")
    pdb = one(objects, "PodDisruptionBudget")
    check(selects(pdb.get("spec", {}).get("selector", {}).get("matchLabels"), labels),
          "PodDisruptionBudget does not select the pods")
    target = one(objects, "HorizontalPodAutoscaler").get("spec", {}).get("scaleTargetRef", {})
    check((target.get("kind"), target.get("name")) == ("Deployment", deployment["metadata"]["name"]),
          "HorizontalPodAutoscaler does not scale the Deployment")
    return service


def check_service_monitor(objects, service):
    monitor = one(objects, "ServiceMonitor")
    print("ServiceMonitor: not schema-validated (its CRD, monitoring.coreos.com/v1, is not part "
          "of the Kubernetes OpenAPI schemas and cannot be fetched offline); checked instead: "
          "apiVersion, selector and endpoint against the Service")
    check(monitor.get("apiVersion") == "monitoring.coreos.com/v1", "ServiceMonitor: unexpected apiVersion")
    spec = monitor.get("spec", {})
    check(set(spec) <= {"selector", "endpoints", "namespaceSelector", "jobLabel"},
          f"ServiceMonitor: unexpected spec fields {sorted(set(spec))}")
    check(selects(spec.get("selector", {}).get("matchLabels"), service.get("metadata", {}).get("labels", {})),
          "ServiceMonitor does not select the Service")
    service_ports = {p.get("name") for p in service.get("spec", {}).get("ports", [])}
    for endpoint in spec.get("endpoints", []):
        check(endpoint.get("port") in service_ports, f"ServiceMonitor: port {endpoint.get('port')} not in the Service")
        check(endpoint.get("path") == "/-/metrics", "ServiceMonitor: path is not /-/metrics")
    check(bool(spec.get("endpoints")), "ServiceMonitor: no endpoints")


def main():
    base, with_components = (load(path) for path in sys.argv[1:3])
    service = check_base(base)
    check_service_monitor(with_components, service)
    for problem in problems:
        print(f"manifest check: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print("manifest checks: probes, security context, resources, references, shutdown arithmetic: ok")


main()
