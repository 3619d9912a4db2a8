// attnlrp info: what a checkpoint is, without running it; or, with --families, what the engine reads.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/handles.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "models/model.h"
#include "models/registry.h"
#include "inputs/text.h"
#include "render/render.h"

static const char info_usage[] =
    "usage: attnlrp info [--model PATH] [--format text|json]\n"
    "       attnlrp info --families [--format text|json]\n"
    "\n"
    "Prints the architecture, task, sizes, parameter count, weight dtypes and whether a tokenizer is present;\n"
    "with --families, the model families this build reads (config.json model_type and GGUF architecture).\n"
    "\n"
    "  --model PATH     Hugging Face checkpoint directory or GGUF file (default: the shipped model)\n"
    "  --families       list the model families instead\n"
    "  --format F       text (default) or json\n"
    "  --help, -h       this help\n";

static const char *const scaling_names[] = {"none", "linear", "llama3", "longrope"};

static json_t *string_list(const char *const *names) {
    json_t *a = json_array();
    for (int i = 0; names && names[i]; i++) json_array_append_new(a, json_string(names[i]));
    return a;
}

static int print_families(int json) {
    json_t *arr = json ? json_array() : NULL;
    for (int i = 0; i < lrp_family_count(); i++) {
        const lrp_family *f = lrp_family_at(i);
        if (json) {
            json_array_append_new(arr, json_pack("{s:s, s:o, s:o, s:s}", "family", f->name, "model_types",
                                                 string_list(f->model_types), "gguf_architectures",
                                                 string_list(f->gguf_archs), "summary", f->summary));
            continue;
        }
        printf("%-10s model_type:", f->name);
        for (int j = 0; f->model_types[j]; j++) printf(" %s", f->model_types[j]);
        printf("; GGUF:");
        if (!f->gguf_archs || !f->gguf_archs[0]) printf(" -");
        for (int j = 0; f->gguf_archs && f->gguf_archs[j]; j++) printf(" %s", f->gguf_archs[j]);
        printf("\n           %s\n", f->summary);
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_ENSURE_ASCII);
        putchar('\n');
        json_decref(arr);
    }
    return 0;
}

// The special tokens: the ids config.json / GGUF names (bos, eos, pad) and the tokenizer's added tokens
// marked special (at most `cap` of them). text: one line; json: fields of o.
#define SPECIAL_CAP 32
static void special_tokens(const lrp_config *c, const lrp_tokenizer *tok, FILE *f, json_t *o) {
    json_t *eos = json_array(), *list = json_array();
    for (int i = 0; i < c->n_eos; i++) json_array_append_new(eos, json_integer(c->eos_token_ids[i]));
    if (o) {
        json_object_set_new(o, "bos_token_id", c->bos_token_id >= 0 ? json_integer(c->bos_token_id) : json_null());
        json_object_set_new(o, "eos_token_ids", eos);
        json_object_set_new(o, "pad_token_id", c->pad_token_id >= 0 ? json_integer(c->pad_token_id) : json_null());
    } else {
        json_decref(eos);
        fprintf(f, "special tokens  bos %s", c->bos_token_id >= 0 ? "" : "-");
        if (c->bos_token_id >= 0) fprintf(f, "%d", c->bos_token_id);
        fprintf(f, ", eos");
        if (!c->n_eos) fprintf(f, " -");
        for (int i = 0; i < c->n_eos; i++) fprintf(f, "%s%d", i ? "," : " ", c->eos_token_ids[i]);
        fprintf(f, ", pad ");
        if (c->pad_token_id >= 0) fprintf(f, "%d", c->pad_token_id);
        else fputc('-', f);
    }
    int n = 0, more = 0;
    for (int id = 0; tok && id < c->vocab_size; id++) {
        if (!lrp_tokenizer_is_special(tok, id)) continue;
        if (n == SPECIAL_CAP) {
            more++;
            continue;
        }
        char *t = lrp_token_string(tok, id);
        if (o) json_array_append_new(list, json_pack("{s:i, s:o}", "id", id, "token", lrp_jv_text(t)));
        else fprintf(f, "%s%d \"%s\"", n ? ", " : "; tokenizer: ", id, t ? t : "");
        free(t);
        n++;
    }
    if (o) json_object_set_new(o, "special_tokens", list);
    else {
        json_decref(list);
        if (more) fprintf(f, " and %d more", more);
        fputc('\n', f);
    }
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL, *format = "text";
    int families = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(info_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--model")) {
            if (!(model = arg_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--format")) {
            if (!(format = arg_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--families")) {
            families = 1;
        } else if (cli_split_option(&argc, &argv, i)) {  // --flag=value
            i--;
        } else {
            return cli_error(2, "info: unexpected argument %s (see attnlrp info --help)", argv[i]);
        }
    }
    if (strcmp(format, "text") && strcmp(format, "json")) return cli_error(2, "--format %s: expected text or json", format);
    int json = !strcmp(format, "json");
    if (families) {
        if (model) return cli_error(2, "info: give --model or --families, not both");
        return print_families(json);
    }
    attnlrp_session *api = NULL;  // opened as the public API opens it (the default model, the tokenizer)
    int rc = cli_api_open(&api, model);
    if (rc) return rc;
    const lrp_session s = *lrp_api_session(api);  // the description reads the model's config and tensors
    const lrp_model *m = s.m;
    const char *path = s.model_path;
    const lrp_config *c = &m->cfg;
    int per_dtype[LRP_DTYPE_COUNT] = {0};
    for (int i = 0; i < m->tf.n_tensors; i++)
        if ((unsigned)m->tf.tensors[i].dtype < LRP_DTYPE_COUNT) per_dtype[m->tf.tensors[i].dtype]++;
    int has_tok = s.tok != NULL;
    int rotary = c->rotary;
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:b, s:b}", "path", path,
                              "format", m->format, "model_type", c->model_type, "family", m->family->name, "task",
                              lrp_task_name(c->task), "layers", c->num_layers, "hidden_size", c->hidden_size, "heads",
                              c->num_heads, "kv_heads", c->num_kv_heads, "head_dim", c->head_dim, "intermediate_size",
                              c->intermediate_size, "vocab_size", c->vocab_size, "parameters", (json_int_t)m->n_params,
                              "tie_word_embeddings", c->tie_word_embeddings, "tokenizer", has_tok);
        // 0: no fixed context (relative positions, T5)
        json_object_set_new(o, "context_length", json_integer(c->max_position_embeddings));
        json_object_set_new(o, "head_tied", json_boolean(c->tie_word_embeddings && c->task != LRP_TASK_CLASSIFIER));
        special_tokens(c, s.tok, NULL, o);
        if (rotary) {
            json_object_set_new(o, "rope_theta", json_real(c->rope.theta));
            json_object_set_new(o, "rope_scaling", json_string(scaling_names[c->rope.scaling]));
        }
        if (c->task == LRP_TASK_CLASSIFIER) {  // n_labels names (the array has no NULL at its end)
            json_t *labels = json_array();
            for (int i = 0; i < c->n_labels; i++) json_array_append_new(labels, json_string(c->labels[i] ? c->labels[i] : ""));
            json_object_set_new(o, "labels", labels);
        }
        if (c->num_encoder_layers > 0) {  // encoder-decoders: layers counts both stacks, encoder first
            json_object_set_new(o, "encoder_layers", json_integer(c->num_encoder_layers));
            json_object_set_new(o, "decoder_start_token_id", json_integer(c->decoder_start_token_id));
        }
        json_t *dt = json_object();
        for (int t = 0; t < LRP_DTYPE_COUNT; t++)
            if (per_dtype[t]) json_object_set_new(dt, lrp_dtype_name((lrp_dtype)t), json_integer(per_dtype[t]));
        json_object_set_new(o, "dtypes", dt);
        json_dumpf(o, stdout, JSON_ENSURE_ASCII);
        putchar('\n');
        json_decref(o);
    } else {
        printf("path            %s (%s)\n", path, m->format);
        printf("architecture    %s (family %s), %s, %d layers, hidden %d, %d heads (%d kv heads, head_dim %d), MLP %d "
               "(%s)\n", c->model_type, m->family->name, lrp_task_name(c->task), c->num_layers, c->hidden_size,
               c->num_heads, c->num_kv_heads, c->head_dim, c->intermediate_size, c->hidden_act);
        if (c->num_encoder_layers > 0)
            printf("stacks          %d encoder + %d decoder layers (numbered encoder first), decoder start token %d\n",
                   c->num_encoder_layers, c->num_layers - c->num_encoder_layers, c->decoder_start_token_id);
        printf("vocabulary      %d\n", c->vocab_size);
        if (c->task != LRP_TASK_CLASSIFIER)
            printf("output head     %s\n", c->tie_word_embeddings ? "tied to the word embeddings" : "its own weights (not tied)");
        if (c->max_position_embeddings > 0)
            printf("context         %d positions (longer inputs are refused)\n",
                   c->max_position_embeddings);
        else
            printf("context         no fixed length (relative positions)\n");
        special_tokens(c, s.tok, stdout, NULL);
        if (c->task == LRP_TASK_CLASSIFIER) {
            printf("labels          ");
            for (int i = 0; i < c->n_labels; i++) printf("%s%d %s", i ? ", " : "", i, c->labels[i]);
            printf("\n");
        }
        if (c->num_experts > 0)
            printf("experts         %d per layer, top-%d%s (MLP width per expert)\n", c->num_experts,
                   c->num_experts_per_tok, c->norm_topk_prob ? ", renormalised" : "");
        if (c->shared_expert_intermediate_size > 0)
            printf("shared expert   %d wide, on every token, scaled by sigmoid(shared_expert_gate)\n",
                   c->shared_expert_intermediate_size);
        printf("parameters      %lld (%.2f M)\n", m->n_params, m->n_params / 1e6);
        if (rotary)
            printf("rope            theta %g, scaling %s, pairing %s\n", c->rope.theta, scaling_names[c->rope.scaling],
                   c->rope.pairing == LRP_ROPE_PAIR_HALVES ? "halves (rotate_half)" : "adjacent (interleaved)");
        printf("norm eps        %g\n", c->norm_eps);
        printf("tensors        ");
        for (int t = 0; t < LRP_DTYPE_COUNT; t++)
            if (per_dtype[t]) printf(" %d %s", per_dtype[t], lrp_dtype_name((lrp_dtype)t));
        printf("\ntokenizer       %s\n", has_tok ? "yes" : "no (use --ids)");
    }
    attnlrp_session_free(api);
    return 0;
}
