"""kube_objects.py -- builders for realistic KubeFed objects.

Field names follow KubeFed v0.6+ (sigs.k8s.io/kubefed,
pkg/apis/multiclusterdns/v1alpha1 and pkg/apis/core/v1beta1):

- ServiceDNSRecord: spec ``domainRef``, ``recordTTL``, ``dnsPrefix``,
  ``externalName``, ``allowServiceWithoutEndpoints``; status ``domain`` and
  ``dns[]`` of ``cluster``, ``region``, ``zones[]``,
  ``loadBalancer.ingress[]`` (``ip`` / ``hostname``).  ``legacy=True``
  gives the federation-v2 shape instead: spec ``federationName`` +
  ``dnsSuffix``, no status ``domain``, and ``zone`` (one string) per
  cluster.
- KubeFedCluster (core.kubefed.io/v1beta1): spec ``apiEndpoint``,
  ``secretRef``; status ``conditions[]`` (``Ready`` True/False/Unknown),
  ``region``, ``zones[]``.
- IngressDNSRecord: spec ``hosts[]``, ``recordTTL``; status ``dns[]`` of
  ``cluster`` and ``loadBalancer.ingress[]``.
- Domain: top-level ``domain`` and ``nameServer`` (no spec).
- DNSEndpoint: spec ``endpoints[]`` of ``dnsName``, ``targets[]``,
  ``recordType``, ``recordTTL``, ``labels``.

Names (KubeFed's convention, which gslbd serves):
global ``<svc>.<ns>.<domainRef>.svc.<domain>``, region
``<svc>.<ns>.<domainRef>.svc.<region>.<domain>``, zone
``<svc>.<ns>.<domainRef>.svc.<zone>.<region>.<domain>``; ``externalName``
replaces ``<svc>``; ``dnsPrefix`` adds ``<dnsPrefix>.<domain>``.
"""
import copy
import ipaddress

MCDNS_V = "multiclusterdns.kubefed.io/v1alpha1"
CORE_V = "core.kubefed.io/v1beta1"
KUBEFED_NS = "kube-federation-system"
TS = "2024-01-01T00:00:00Z"


def _meta(name, namespace, labels=None, annotations=None):
    md = {"name": name, "namespace": namespace}
    if labels:
        md["labels"] = dict(labels)
    if annotations:
        md["annotations"] = dict(annotations)
    return md


def ingress(*addrs):
    """loadBalancer.ingress entries: an IP literal gives {"ip"}, anything
    else {"hostname"}."""
    out = []
    for a in addrs:
        try:
            ipaddress.ip_address(a)
            out.append({"ip": a})
        except ValueError:
            out.append({"hostname": a})
    return out


def cluster_dns(cluster, addrs=(), region=None, zones=None, zone=None):
    """One status.dns[] entry.  zones: list (v0.6); zone: the old single
    string.  No addrs: an empty loadBalancer (what KubeFed writes for a
    cluster that is not Ready or has no endpoints)."""
    d = {"cluster": cluster, "loadBalancer": {}}
    if addrs:
        d["loadBalancer"]["ingress"] = ingress(*addrs)
    if region is not None:
        d["region"] = region
    if zones is not None:
        d["zones"] = list(zones)
    if zone is not None:
        d["zone"] = zone
    return d


def service_dns_record(name, namespace="default", dns=(), domain_ref="kubefed",
                       domain="example.com", ttl=None, dns_prefix=None,
                       external_name=None, allow_without_endpoints=None,
                       annotations=None, labels=None, legacy=False):
    """A ServiceDNSRecord named like its Service (dns: cluster_dns() dicts)."""
    spec, status = {}, {}
    if legacy:
        spec["federationName"] = domain_ref
        spec["dnsSuffix"] = domain
        dns = [_legacy_dns(d) for d in dns]
    else:
        spec["domainRef"] = domain_ref
        if domain is not None:
            status["domain"] = domain
    if ttl is not None:
        spec["recordTTL"] = ttl
    if dns_prefix:
        spec["dnsPrefix"] = dns_prefix
    if external_name:
        spec["externalName"] = external_name
    if allow_without_endpoints is not None:
        spec["allowServiceWithoutEndpoints"] = allow_without_endpoints
    if dns:
        status["dns"] = [copy.deepcopy(d) for d in dns]
    obj = {"apiVersion": MCDNS_V, "kind": "ServiceDNSRecord",
           "metadata": _meta(name, namespace, labels, annotations),
           "spec": spec}
    if status:
        obj["status"] = status
    return obj


def _legacy_dns(d):
    d = copy.deepcopy(d)
    zones = d.pop("zones", None)
    if zones and "zone" not in d:
        d["zone"] = zones[0]
    return d


def kubefed_cluster(name, ready=True, region=None, zones=None,
                    namespace=KUBEFED_NS, api_endpoint=None, reason=None):
    """A KubeFedCluster; ready: True, False or None (Unknown, e.g. offline)."""
    st = {"True": "True", "False": "False"}.get(str(ready), "Unknown")
    cond = {"type": "Ready", "status": st, "lastProbeTime": TS,
            "lastTransitionTime": TS}
    if st == "True":
        cond.update(reason="ClusterReady", message="/healthz responded with ok")
    else:
        cond.update(reason=reason or "ClusterNotReachable",
                    message="cluster is not reachable")
    status = {"conditions": [cond]}
    if st == "Unknown":
        status["conditions"].append({"type": "Offline", "status": "True",
                                     "lastProbeTime": TS,
                                     "lastTransitionTime": TS})
    if region is not None:
        status["region"] = region
    if zones is not None:
        status["zones"] = list(zones)
    return {"apiVersion": CORE_V, "kind": "KubeFedCluster",
            "metadata": _meta(name, namespace),
            "spec": {"apiEndpoint": api_endpoint or "https://%s.k8s.example:6443" % name,
                     "secretRef": {"name": name + "-token"}},
            "status": status}


def domain(name="kubefed", domain="example.com", name_server=None,
           namespace=KUBEFED_NS):
    """A Domain: the zone for every ServiceDNSRecord with domainRef=name."""
    o = {"apiVersion": MCDNS_V, "kind": "Domain",
         "metadata": _meta(name, namespace), "domain": domain}
    if name_server:
        o["nameServer"] = name_server
    return o


def cluster_ingress_dns(cluster, addrs=()):
    """One IngressDNSRecord status.dns[] entry (no region or zones)."""
    d = {"cluster": cluster, "loadBalancer": {}}
    if addrs:
        d["loadBalancer"]["ingress"] = ingress(*addrs)
    return d


def ingress_dns_record(name, namespace="default", hosts=(), dns=(), ttl=None,
                       annotations=None, labels=None):
    """An IngressDNSRecord (KubeFed v0.6: spec ``hosts[]``, ``recordTTL``;
    status ``dns[]`` of ``cluster`` and ``loadBalancer``), named like its
    Ingress (dns: cluster_ingress_dns() dicts)."""
    spec = {"hosts": list(hosts)}
    if ttl is not None:
        spec["recordTTL"] = ttl
    obj = {"apiVersion": MCDNS_V, "kind": "IngressDNSRecord",
           "metadata": _meta(name, namespace, labels, annotations),
           "spec": spec}
    if dns:
        obj["status"] = {"dns": [copy.deepcopy(d) for d in dns]}
    return obj


def endpoint(dns_name, targets, record_type="A", ttl=None, labels=None):
    e = {"dnsName": dns_name, "targets": list(targets), "recordType": record_type}
    if ttl is not None:
        e["recordTTL"] = ttl
    if labels:
        e["labels"] = dict(labels)
    return e


def dns_endpoint(name, namespace="default", endpoints=(), annotations=None,
                 labels=None, owner=None):
    """A DNSEndpoint (endpoints: endpoint() dicts).  owner: an object to
    name in an ownerReference (needs its metadata.uid).  KubeFed's own DNS
    endpoint controller sets none: it names the object
    ``service-<record>`` / ``ingress-<record>`` in the record's namespace
    (pkg/controller/dnsendpoint/controller.go), which is how gslbd knows
    it."""
    md = _meta(name, namespace, labels, annotations)
    if owner is not None:
        md["ownerReferences"] = [{
            "apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"].get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}]
    return {"apiVersion": MCDNS_V, "kind": "DNSEndpoint", "metadata": md,
            "spec": {"endpoints": [copy.deepcopy(e) for e in endpoints]},
            "status": {"observedGeneration": 1}}


# --- names -----------------------------------------------------------------------

def _fq(s):
    return s if s.endswith(".") else s + "."


def global_name(svc, ns, domain_ref="kubefed", domain="example.com"):
    return _fq("%s.%s.%s.svc.%s" % (svc, ns, domain_ref, domain))


def region_name(svc, ns, region, domain_ref="kubefed", domain="example.com"):
    return _fq("%s.%s.%s.svc.%s.%s" % (svc, ns, domain_ref, region, domain))


def zone_name(svc, ns, zone, region, domain_ref="kubefed", domain="example.com"):
    return _fq("%s.%s.%s.svc.%s.%s.%s" % (svc, ns, domain_ref, zone, region,
                                          domain))
