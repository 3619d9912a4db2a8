#!/usr/bin/python3
"""Clean / corrupted prompt pairs for `attnlrp circuit` from data/eval.jsonl: in the fact that answers the
prompt, the value (a pet's name, a city, a colour...) is swapped for the value of another record with the
same relation, so the corrupted prompt's answer is the swapped-in value. Both prompts have the same
tokens but one (every value is one token, with its leading space).

    tools/make_name_swap.py [--data data/eval.jsonl] [--n 40] > data/name_swap.jsonl
    tools/make_name_swap.py --swap person > data/person_swap.jsonl

Each line: {"clean", "corrupt", "target" (the clean answer), "foil" (the corrupted one), "relation"}.
Deterministic: the first n records whose relation has another value, the replacement taken from the next
record of the same relation with a different value.

--swap person: a true name swap. From the records whose context states the same relation for another
person ("Liam's house is silver. Leo's house is orange. Leo's house is"), the corrupted prompt asks about
that other person instead ("... Liam's house is"): same facts, only the queried name differs, and the
answer flips to the other person's value (the foil). The first such person in the context is taken; the
first n records that have one.
"""
import argparse
import json
import re

NAME = re.compile(r"^(\w+)('s| )")


def person_swap(r):
    """(corrupt, foil) for record r, or None: the query's person replaced by another person of the context
    with the same relation."""
    sents = r["text"].split(". ")
    query = sents[-1]
    m = NAME.match(query)
    if not m:
        return None
    p = m.group(1)
    for s in sents[:-1]:
        m2 = NAME.match(s)
        if not m2 or m2.group(1) == p:
            continue
        asked = m2.group(1) + query[len(p):]
        if s.startswith(asked + " "):
            return ". ".join(sents[:-1] + [asked]), " " + s[len(asked) + 1:]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/eval.jsonl")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--swap", choices=("value", "person"), default="value")
    a = ap.parse_args()
    recs = [json.loads(l) for l in open(a.data) if l.strip()]
    out = 0
    for i, r in enumerate(recs):
        if out == a.n:
            break
        if a.swap == "person":
            swap = person_swap(r)
            if swap:
                print(json.dumps({"clean": r["text"], "corrupt": swap[0], "target": r["target"], "foil": swap[1],
                                  "relation": r["relation"]}))
                out += 1
            continue
        s, e = r["span"]
        value = r["text"][s:e]
        other = next((q for q in recs[i + 1:] + recs[:i] if q["relation"] == r["relation"]
                      and q["target"] != r["target"] and q["target"].strip() not in r["text"]), None)
        if other is None:
            continue
        new = other["target"].strip()
        corrupt = r["text"][:s] + new + r["text"][e:]
        print(json.dumps({"clean": r["text"], "corrupt": corrupt, "target": r["target"], "foil": other["target"],
                          "relation": r["relation"]}))
        out += 1


if __name__ == "__main__":
    main()
