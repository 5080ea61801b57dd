#!/usr/bin/env python3
# The interface XML in dbus/ against what a running smsprovd introspects.
#
#   interface-xml.py --address ADDR --docs TOOL --update DIR   rewrite DIR/<interface>.xml
#   interface-xml.py --address ADDR --docs TOOL --check DIR    fail if any file differs
#
# The daemon must hold at least one instance of every class (the caller creates them). The
# structure (members, signatures, access, annotations, argument names) comes from introspection;
# the doc comment before each member comes from the descriptor tables (TOOL prints them) and, for
# the Site and Class interfaces, from the table below.
import argparse
import subprocess
import sys
import xml.etree.ElementTree as ET

PREFIX = "org.smsprov.Provider1"
ROOT = "/org/smsprov/Provider1"

FIXED_DOCS = {
    PREFIX + ".Site": {
        "": "The site: its identity, WQL queries and WMI object paths. Lives at /org/smsprov/Provider1.",
        "SiteCode": "The site code, 3 characters A-Z 0-9, fixed when the site database was created.",
        "SiteName": "The site's display name.",
        "ProviderVersion": "The version of smsprovd.",
        "Classes": "Every class the provider serves.",
        "ExecQuery": "Runs a WQL query (API.md section 5); returns each instance's path and its selected "
                     "non-lazy properties. Errors: InvalidClass, InvalidQuery, LimitsExceeded.",
        "ExecQueryPage": "Runs a WQL query one page at a time (API.md section 5, keyset pagination): Cursor \"\" "
                         "starts, NextCursor is \"\" after the last page; pages follow the query's ORDER BY, then "
                         "the class key. MaxRows 0 means 1,000; more than --max-query-rows is capped. Errors: "
                         "InvalidClass, InvalidQuery, InvalidParameter (a cursor not made for this query), "
                         "LimitsExceeded.",
        "GetObject": "Resolves a WMI path such as SMS_BootImagePackage.PackageID=\"LAB00001\" to the "
                     "instance's object path. Errors: InvalidClass, InvalidParameter, NotFound.",
        "ChangeNotification": "A package was announced as changed (AddChangeNotification, refreshes).",
        "JobNew": "A job was queued; its object is at the given path.",
        "JobRemoved": "A job ended: Result is done, failed or canceled. Its object stays on the bus for "
                      "60 s (--job-linger), then goes away; the outcome stays in the site database.",
    },
    PREFIX + ".Job": {
        "": "A long operation at /org/smsprov/Provider1/job/_<Id>: a boot image build, an export, a "
            "refresh. It stays on the bus for 60 s after it ends; its outcome stays in the site database.",
        "Id": "The job's number, never reused.",
        "Operation": "The method that started it, e.g. UpdateImage, or Create.",
        "Target": "The package it works on, or / (ExportDefaultBootImage).",
        "ContextID": "The ContextID whose status queue the job reports to (QueryOSDBinaryInjectionStatus).",
        "StartedByUID": "The Unix user that started it.",
        "State": "0 queued, 1 running, 2 completed, 3 failed, 4 canceled.",
        "Progress": "Steps done (percent of bytes for builds and exports).",
        "MaxProgress": "Steps in all.",
        "ProgressText": "What it is doing now; after a build, what it could not do and went on without.",
        "Bytes": "Bytes written so far.",
        "Rate": "Bytes per second while running.",
        "SubmitTime": "When it was queued (µs since the epoch, UTC).",
        "StartTime": "When it started running.",
        "EndTime": "When it ended.",
        "Cancelable": "Whether Cancel() can still stop it.",
        "ErrorName": "The named error of a failed or canceled job, e.g. org.smsprov.Provider1.Error.Canceled.",
        "ErrorMessage": "The error's message.",
        "ErrorCode": "An errno-style code of the failure, 0 on success.",
        "Cancel": "Stops the job: a queued one at once, a running one at its next progress point, leaving the "
                  "previous image and the database as they were. Errors: Failed (already ended), NotSupported.",
        "Completed": "Sent when the job ends: success, the error name and message.",
    },
    PREFIX + ".Class": {
        "": "A class object at /org/smsprov/Provider1/class/<Class>: the class's schema, and Create.",
        "Name": "The class name.",
        "SuperClass": "The parent class, empty at the top of the hierarchy.",
        "Abstract": "True when the class has no instances of its own (SMS_PackageBaseclass).",
        "PropertySchema": "Every property with its CIM type and qualifiers (key, read, lazy, large, bits, "
                          "not_null, enumeration, values=a|b, range=lo-hi, size_limit=n, max=n, path).",
        "MethodSchema": "Every method this build serves: name, is_static, D-Bus in→out signature.",
        "Create": "Creates an instance from the given properties, like a WMI Put of a new instance; "
                  "returns its path and the Job doing the work, or / when there is none. Errors: "
                  "NotSupported, InvalidProperty, ReadOnly, TypeMismatch, ValueOutOfRange, "
                  "InvalidParameter, PathNotAllowed.",
    },
}


def busctl(address, *args):
    return subprocess.run(["busctl", "--address=" + address, *args], check=True, capture_output=True,
                          text=True).stdout


def instance_of(address, class_name):
    out = busctl(address, "--json=short", "call", PREFIX, ROOT, PREFIX + ".Site", "ExecQuery", "s",
                 "SELECT * FROM " + class_name)
    import json
    rows = json.loads(out)["data"][0]
    if not rows:
        sys.exit("interface-xml: no instance of %s to introspect; create one first" % class_name)
    return rows[0][0]


def object_for(address, interface):
    name = interface[len(PREFIX) + 1:]
    if name == "Site":
        return ROOT
    if name == "Class":
        return ROOT + "/class/SMS_BootImagePackage"
    if name == "SMS_PackageBaseclass":
        return instance_of(address, "SMS_BootImagePackage")
    if name.endswith(".Static"):
        return ROOT + "/class/" + name[:-len(".Static")]
    if name == "Job":
        return ROOT + "/job/_1"
    return instance_of(address, name)


def live_interface(address, interface):
    xml = busctl(address, "introspect", "--xml-interface", PREFIX, object_for(address, interface))
    for iface in ET.fromstring(xml).iter("interface"):
        if iface.get("name") == interface:
            return iface
    sys.exit("interface-xml: %s not found on %s" % (interface, object_for(address, interface)))


def load_docs(tool):
    docs = {k: dict(v) for k, v in FIXED_DOCS.items()}
    out = subprocess.run([tool], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        iface, _kind, member, text = line.split("\t", 3)
        docs.setdefault(iface, {})[member] = text
    return docs


def escape_comment(text):
    # "--" may not appear inside an XML comment.
    return text.replace("--", "- -")


def render(iface, docs):
    name = iface.get("name")
    d = docs.get(name, {})
    lines = ['<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"',
             ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
             "<!-- SPDX-License-Identifier: MIT -->",
             "<!-- Generated from the running daemon and the descriptor tables by tools/interface-xml.py;",
             "     tests/bus/test-interface-xml.sh checks that it matches what smsprovd introspects. -->",
             "<node>",
             "  <!-- %s -->" % escape_comment(d.get("", name)),
             '  <interface name="%s">' % name]
    for member in iface:
        mname = member.get("name")
        if mname not in d:
            sys.exit("interface-xml: no documentation for %s.%s" % (name, mname))
        lines.append("    <!-- %s -->" % escape_comment(d[mname]))
        attrs = " ".join('%s="%s"' % (k, v) for k, v in member.attrib.items())
        children = list(member)
        if not children:
            lines.append("    <%s %s/>" % (member.tag, attrs))
            continue
        lines.append("    <%s %s>" % (member.tag, attrs))
        for child in children:
            cattrs = " ".join('%s="%s"' % (k, v) for k, v in child.attrib.items())
            lines.append("      <%s %s/>" % (child.tag, cattrs))
        lines.append("    </%s>" % member.tag)
    lines += ["  </interface>", "</node>", ""]
    return "\n".join(lines)


def normalize(iface):
    """The structure of an interface, without comments or order of attributes."""
    members = []
    for member in iface:
        if not isinstance(member.tag, str):
            continue
        children = tuple((c.tag, tuple(sorted(c.attrib.items()))) for c in member if isinstance(c.tag, str))
        members.append((member.tag, tuple(sorted(member.attrib.items())), children))
    return sorted(members)


def interfaces(address):
    """Every interface the daemon serves: Site, Class, Job, one per class, and the .Static ones."""
    names = [PREFIX + ".Site", PREFIX + ".Class", PREFIX + ".Job"]
    out = busctl(address, "get-property", PREFIX, ROOT, PREFIX + ".Site", "Classes")
    for cls in [c.strip('"') for c in out.split()[2:]]:
        schema = busctl(address, "get-property", PREFIX, ROOT + "/class/" + cls, PREFIX + ".Class", "PropertySchema")
        if not schema.startswith("a(ssas) 0"):  # a methods-only class has no instance interface
            names.append(PREFIX + "." + cls)
        xml = busctl(address, "introspect", "--xml-interface", PREFIX, ROOT + "/class/" + cls)
        names += [i.get("name") for i in ET.fromstring(xml).iter("interface") if i.get("name").endswith(".Static")]
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--docs", required=True)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", metavar="DIR")
    mode.add_argument("--check", metavar="DIR")
    args = ap.parse_args()

    docs = load_docs(args.docs)
    directory = args.update or args.check
    failures = 0
    for name in interfaces(args.address):
        live = live_interface(args.address, name)
        path = "%s/%s.xml" % (directory, name)
        if args.update:
            with open(path, "w", encoding="utf-8") as f:
                f.write(render(live, docs))
            print("wrote", path)
            continue
        try:
            parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
            tree = ET.parse(path, parser)
        except (OSError, ET.ParseError) as e:
            print("not ok - %s: %s" % (path, e))
            failures += 1
            continue
        files = [i for i in tree.getroot().iter("interface") if i.get("name") == name]
        if len(files) != 1 or normalize(files[0]) != normalize(live):
            print("not ok - %s differs from what smsprovd introspects (run tools/interface-xml.py --update)" % path)
            failures += 1
            continue
        undocumented = []
        previous = None
        for member in files[0]:
            if isinstance(member.tag, str) and (previous is None or previous.tag is not ET.Comment):
                undocumented.append(member.get("name"))
            previous = member
        if undocumented:
            print("not ok - %s: members without a doc comment: %s" % (path, ", ".join(undocumented)))
            failures += 1
            continue
        print("ok - %s" % path)
    if args.check:
        import glob
        import os
        known = {"%s/%s.xml" % (directory, n) for n in interfaces(args.address)}
        for stale in sorted(set(glob.glob(os.path.join(directory, PREFIX + ".*.xml"))) - known):
            print("not ok - %s names no interface the daemon serves" % stale)
            failures += 1
        print("%d passed, %d failed" % (len(known) - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
