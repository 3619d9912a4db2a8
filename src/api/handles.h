// Inside the public API's handles (include/attnlrp.h): for the attnlrp program only, which runs every
// explanation and generation through the public calls and then renders the result with the library's own
// renderers (text with colour, HTML, PNG, JSON into its own files). Not exported from libattnlrp.so.
// This is the one place that turns a session or a result of the public API into the library's structs.
#ifndef LRP_API_HANDLES_H
#define LRP_API_HANDLES_H

#include "attnlrp.h"
#include "api/session.h"
#include "explain/explain.h"
#include "inputs/image.h"
#include "render/render.h"

// The model and tokenizer of an open session (NULL for NULL or a closed session). The caller reads them
// only while no other thread runs a call on the session (the CLI: one thread).
const lrp_session *lrp_api_session(const attnlrp_session *s);
// The explanation of a result, its display strings and views as the renderers take them (render/render.h),
// and, for an image model, the image as loaded (its displayable copy). Valid until attnlrp_result_free.
const lrp_explanation *lrp_api_explanation(const attnlrp_result *r);
const lrp_render_ctx *lrp_api_render_ctx(const attnlrp_result *r);
const lrp_image *lrp_api_image(const attnlrp_result *r);

#endif
