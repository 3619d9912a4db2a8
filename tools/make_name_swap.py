#!/usr/bin/python3
"""Clean / corrupted prompt pairs for `attnlrp circuit` from data/eval.jsonl: in the fact that answers the
prompt, the value (a pet's name, a city, a colour...) is swapped for the value of another record with the
same relation, so the corrupted prompt's answer is the swapped-in value. Both prompts have the same
tokens but one (every value is one token, with its leading space).

    tools/make_name_swap.py [--data data/eval.jsonl] [--n 40] > data/name_swap.jsonl

Each line: {"clean", "corrupt", "target" (the clean answer), "foil" (the corrupted one), "relation"}.
Deterministic: the first n records whose relation has another value, the replacement taken from the next
record of the same relation with a different value.
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/eval.jsonl")
    ap.add_argument("--n", type=int, default=40)
    a = ap.parse_args()
    recs = [json.loads(l) for l in open(a.data) if l.strip()]
    out = 0
    for i, r in enumerate(recs):
        if out == a.n:
            break
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
