"""kubefed_cases.py -- KubeFed v0.6.1's own DNS test cases as data.

From kubernetes-retired/kubefed v0.6.1 pkg/controller/dnsendpoint/
service_test.go (TestGetEndpointsForServiceDNSObject), ingress_test.go
(TestGetEndpointsForIngressDNSObject) and the cases issue 11 adds (a load
balancer shared by two clusters, ten load balancers in one cluster, a zone
falling back to its region).  Each case is the record's spec and
status.dns, and for every name the addresses a resolver ends up with
after KubeFed + ExternalDNS published the case: KubeFed's CNAME from an
empty zone to its region and from an empty region to the global name is
followed, and duplicates merged (common.go).  Names are relative: GLOBAL,
REGION:<r>, ZONE:<z>.<r>, PREFIX:<label>, or an ingress host.  A name not
listed has no address.

KubeFed's clusters: c1 in region us (zone us1), c2 in eu (eu1); lb1-3 and
the ELB host name a9.us-west-2.elb.amazonaws.test (which resolves to lb3)
are theirs.
"""
LB1, LB2, LB3 = "10.20.30.1", "10.20.30.2", "10.20.30.3"
ELB = "a9.us-west-2.elb.amazonaws.test"
ELB_ZONE = "amazonaws.test"
ELB_RECORDS = {"a9.us-west-2.elb": [LB3]}
FED = "galactic"
SVC = "nginx"


def c1(*lbs, zones=("us1",)):
    return {"cluster": "c1", "region": "us", "zones": list(zones), "lb": list(lbs)}


def c2(*lbs):
    return {"cluster": "c2", "region": "eu", "zones": ["eu1"], "lb": list(lbs)}


def c3(*lbs):
    return {"cluster": "c3", "region": "us", "zones": ["us2"], "lb": list(lbs)}


TEN = ["10.20.31.%d" % i for i in range(1, 11)]

SERVICE_CASES = [
    # name, {spec}, [clusters], {name: addresses}, ttl
    ("NoClusters", {}, [], {}, None),
    ("SingleLBInSingleCluster", {}, [c1(LB1)],
     {"GLOBAL": [LB1], "REGION:us": [LB1], "ZONE:us1.us": [LB1]}, None),
    ("LBsInBothClusters", {}, [c1(LB1), c2(LB2)],
     {"GLOBAL": [LB1, LB2], "REGION:us": [LB1], "ZONE:us1.us": [LB1],
      "REGION:eu": [LB2], "ZONE:eu1.eu": [LB2]}, None),
    # c2's region and zone names were CNAMEs to the global name
    ("NoLBInOneCluster", {}, [c1(LB1), c2()],
     {"GLOBAL": [LB1], "REGION:us": [LB1], "ZONE:us1.us": [LB1],
      "REGION:eu": [LB1], "ZONE:eu1.eu": [LB1]}, None),
    # CNAMEs to a global name that has no address: nothing
    ("NoLBInBothClusters", {}, [c1(), c2()], {}, None),
    ("MultipleLBsInClusters", {}, [c1(LB1, LB3), c2(LB2)],
     {"GLOBAL": [LB1, LB2, LB3], "REGION:us": [LB1, LB3],
      "ZONE:us1.us": [LB1, LB3], "REGION:eu": [LB2], "ZONE:eu1.eu": [LB2]},
     None),
    ("HostnameInLB", {}, [c1(ELB), c2(LB2)],
     {"GLOBAL": [LB2, LB3], "REGION:us": [LB3], "ZONE:us1.us": [LB3],
      "REGION:eu": [LB2], "ZONE:eu1.eu": [LB2]}, None),
    ("UserConfiguredDNSRecordTTL", {"recordTTL": 300}, [c1(LB1)],
     {"GLOBAL": [LB1], "REGION:us": [LB1], "ZONE:us1.us": [LB1]}, 300),
    # foo.example.com was a CNAME to the global name
    ("UserConfiguredDNSPrefix", {"dnsPrefix": "foo"}, [c1(LB1), c2(LB2)],
     {"GLOBAL": [LB1, LB2], "REGION:us": [LB1], "ZONE:us1.us": [LB1],
      "REGION:eu": [LB2], "ZONE:eu1.eu": [LB2], "PREFIX:foo": [LB1, LB2]},
     None),
    ("UserConfiguredExternalName", {"externalName": "foo"}, [c1(LB1), c2(LB2)],
     {"GLOBAL": [LB1, LB2], "REGION:us": [LB1], "ZONE:us1.us": [LB1],
      "REGION:eu": [LB2], "ZONE:eu1.eu": [LB2]}, None),
    ("MultiZoneCluster", {}, [c1(LB1, zones=("us1", "us2")), c2(LB2)],
     {"GLOBAL": [LB1, LB2], "REGION:us": [LB1], "ZONE:us1.us": [LB1],
      "ZONE:us2.us": [LB1], "REGION:eu": [LB2], "ZONE:eu1.eu": [LB2]}, None),
    # issue 11: one load balancer behind two clusters is one record
    ("Dup", {}, [c1(LB1), c2(LB1)],
     {"GLOBAL": [LB1], "REGION:us": [LB1], "ZONE:us1.us": [LB1],
      "REGION:eu": [LB1], "ZONE:eu1.eu": [LB1]}, None),
    # issue 11: every address, not the first eight
    ("TenLBsInOneCluster", {}, [c1(*TEN)],
     {"GLOBAL": TEN, "REGION:us": TEN, "ZONE:us1.us": TEN}, None),
    # zone -> region -> global: us1 (c1, empty) was a CNAME to region us
    # (c3's lb3); eu1 and eu (c2, empty) ended at the global name
    ("ZoneToRegionToGlobal", {}, [c1(), c3(LB3), c2()],
     {"GLOBAL": [LB3], "REGION:us": [LB3], "ZONE:us1.us": [LB3],
      "ZONE:us2.us": [LB3], "REGION:eu": [LB3], "ZONE:eu1.eu": [LB3]}, None),
]

INGRESS_CASES = [
    # name, hosts, [(cluster, lbs)], {host: addresses}, ttl
    ("NoClusters", ["foo.bar"], [], {}, None),
    ("SingleLBInSingleCluster", ["foo.bar"], [("c1", [LB1])],
     {"foo.bar": [LB1]}, None),
    ("LBsInBothClusters", ["foo.bar"], [("c1", [LB1]), ("c2", [LB2])],
     {"foo.bar": [LB1, LB2]}, None),
    ("HostnameInLB", ["foo.bar"], [("c1", [ELB]), ("c2", [LB2])],
     {"foo.bar": [LB2, LB3]}, None),
    ("MultipleHosts", ["foo.bar", "jane.goodall"], [("c1", [LB1]), ("c2", [LB2])],
     {"foo.bar": [LB1, LB2], "jane.goodall": [LB1, LB2]}, None),
    ("UserConfiguredDNSRecordTTL", ["foo.bar"], [("c1", [LB1])],
     {"foo.bar": [LB1]}, 300),
]


def slug(case):
    return case.lower()
