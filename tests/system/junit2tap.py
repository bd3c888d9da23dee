"""junit2tap.py -- print a pytest JUnit XML report as TAP, one line per case.

Usage: junit2tap.py REPORT.xml PYTEST_EXIT_CODE
A missing or empty report, or a pytest exit code that means it could not
run (usage error, internal error, nothing collected), is a failing case.
"""
import re
import sys
import xml.etree.ElementTree as ET


def cases(path):
    root = ET.parse(path).getroot()
    for tc in root.iter("testcase"):
        name = "%s::%s" % (tc.get("classname", ""), tc.get("name", ""))
        failed = [c for c in tc if c.tag in ("failure", "error")]
        skipped = [c for c in tc if c.tag == "skipped"]
        yield name, failed, skipped


def clean(text):
    # '#' starts a TAP directive; keep descriptions on one line.
    return re.sub(r"[#\n\r]", " ", text).strip()


def main():
    path, rc = sys.argv[1], int(sys.argv[2])
    try:
        results = list(cases(path))
    except (OSError, ET.ParseError) as e:
        results = []
        why = "no JUnit report (%s)" % e
    else:
        why = "pytest collected no test"
    if rc in (2, 3, 4, 5) or not results:
        results.append(("pytest did not run properly: exit %d, %s" % (rc, why),
                        [ET.Element("error")], []))
    print("1..%d" % len(results))
    for n, (name, failed, skipped) in enumerate(results, 1):
        if failed:
            print("not ok %d - %s" % (n, clean(name)))
            for f in failed:
                msg = f.get("message") or ""
                for line in msg.splitlines()[:8]:
                    print("#   %s" % line)
        elif skipped:
            reason = clean(skipped[0].get("message") or "skipped")
            print("ok %d - %s # SKIP %s" % (n, clean(name), reason))
        else:
            print("ok %d - %s" % (n, clean(name)))


if __name__ == "__main__":
    main()
