// The display strings of an explanation, for the renderers (render/render.h): what `attnlrp explain` and
// the public API (api/attnlrp.c) both show, built in one place so the two cannot drift.
#ifndef LRP_API_DESCRIBE_H
#define LRP_API_DESCRIBE_H

#include "api/session.h"
#include "explain/explain.h"
#include "render/render.h"

// Fills ctx's strings for e as explained on session s's model: family, class labels, the input tokens
// (their display text and bytes) and the decoder's, the target, contrast, top and answer tokens. Token
// strings need a tokenizer (classifiers name their classes without one); what cannot be named stays NULL.
// Other fields of ctx are left as they are. 0, or -1 (out of memory) with err; then nothing is left allocated.
int lrp_describe_explanation(const lrp_session *s, const lrp_explanation *e, lrp_render_ctx *ctx, lrp_err *err);
// Frees what lrp_describe_explanation allocated (e: the same explanation) and clears those fields.
void lrp_describe_free(lrp_render_ctx *ctx, const lrp_explanation *e);

#endif
