// A small Jinja interpreter for chat templates: the subset real tokenizer_config.json templates use, run
// with transformers' settings (trim_blocks, lstrip_blocks, loop controls). Statements: for (with an `if`
// filter, `loop.index0/index/first/last/length/revindex`, break/continue), if/elif/else, set (also
// `ns.attr` of a namespace()), `generation` blocks (no-ops), comments, whitespace control (`{%-`, `-%}`).
// Expressions: string/number/bool/none literals, lists, dicts, names, `.attr` and `[key]`, slices
// `[a:b:c]`, `+ - * / // %`, `~`, comparisons, `in`/`not in`, `and`/`or`/`not`, `x if c else y`, tests
// (`is [not] defined/none/string/number/mapping/sequence/iterable/true/false/even/odd`), filters (trim,
// length, count, upper, lower, title, capitalize, default, first, last, join, string, list, tojson, int,
// replace, reverse, safe, items, selectattr/rejectattr with equalto/defined, map(attribute=)), string methods
// (strip, lstrip, rstrip, upper, lower, title, startswith, endswith, split, replace), dict methods (items,
// keys, values, get), and the functions raise_exception, namespace, range, strftime_now. Anything else is
// an error naming it ("chat_template: line 3: unknown filter \"wordwrap\"").
#ifndef LRP_INPUTS_JINJA_H
#define LRP_INPUTS_JINJA_H

#include "core/err.h"

// Renders tmpl with messages = [{"role": "user", "content": user}], add_generation_prompt = true,
// bos_token / eos_token (either may be NULL: undefined), tools = documents = none. *out is malloc'ed.
int lrp_jinja_chat(const char *tmpl, const char *bos, const char *eos, const char *user, char **out, lrp_err *err);

#endif
