// The chat-template interpreter (inputs/jinja.h) on real templates of the model families (Llama 3.1,
// Qwen2.5, Qwen3, Mistral, Gemma) and on each construct, against outputs worked out by hand from the
// Jinja semantics transformers uses (trim_blocks, lstrip_blocks, loop controls); errors name the line.
#include <string.h>

#include "harness.h"
#include "core/err.h"
#include "inputs/chat.h"
#include "inputs/jinja.h"

static void render_is(const char *tmpl, const char *user, const char *want) {
    char *out = NULL;
    lrp_err err = {0};
    int rc = lrp_jinja_chat(tmpl, "<s>", "</s>", user, &out, &err);
    if (rc) fprintf(stderr, "  template %s: %s\n", tmpl, err.msg);
    CHECK(rc == 0);
    if (!rc) CHECK_STR(out, want);
    free(out);
}

static void error_is(const char *tmpl, const char *want) {
    char *out = NULL;
    lrp_err err = {0};
    CHECK(lrp_jinja_chat(tmpl, "<s>", "</s>", "hi", &out, &err) != 0);
    CHECK(out == NULL);
    CHECK_STR(err.msg, want);
}

// meta-llama/Llama-3.1-8B-Instruct (the tool branches shortened; they are not taken without tools)
static const char llama31[] =
    "{{- bos_token }}\n"
    "{%- if custom_tools is defined %}\n    {%- set tools = custom_tools %}\n{%- endif %}\n"
    "{%- if not tools_in_user_message is defined %}\n    {%- set tools_in_user_message = true %}\n{%- endif %}\n"
    "{%- if not date_string is defined %}\n    {%- set date_string = \"26 Jul 2024\" %}\n{%- endif %}\n"
    "{%- if not tools is defined %}\n    {%- set tools = none %}\n{%- endif %}\n\n"
    "{#- This block extracts the system message, so we can slot it into the right place. #}\n"
    "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content']|trim %}\n"
    "    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set system_message = \"\" %}\n{%- endif %}\n\n"
    "{#- System message + builtin tools #}\n"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
    "{%- if builtin_tools is defined or tools is not none %}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n"
    "{%- if builtin_tools is defined %}\n"
    "    {{- \"Tools: \" + builtin_tools | reject('equalto', 'code_interpreter') | join(\", \") + \"\\n\\n\"}}\n"
    "{%- endif %}\n"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
    "{%- if tools is not none and not tools_in_user_message %}\n    {{- \"You have access to the following functions.\" }}\n"
    "    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n    {%- endfor %}\n{%- endif %}\n"
    "{{- system_message }}\n{{- \"<|eot_id|>\" }}\n\n"
    "{%- for message in messages %}\n"
    "    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}\n"
    "        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' }}\n"
    "    {%- elif 'tool_calls' in message %}\n        {{- raise_exception(\"tool calls\") }}\n"
    "    {%- endif %}\n{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n";

TEST(test_llama31) {
    render_is(llama31, "  Where is Rex?\n",
              "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
              "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhere is Rex?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    CHECK_STR(lrp_chat_family(llama31), "llama-3");
}

// Qwen/Qwen2.5-7B-Instruct (the tools branch shortened)
static const char qwen25[] =
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {{- raise_exception('tools') }}\n{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == "
    "\"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n        {{- '<|im_start|>' + message.role }}\n    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";

// Qwen/Qwen3-8B (the assistant and tool branches shortened)
static const char qwen3[] =
    "{%- if tools %}\n    {{- raise_exception('tools') }}\n{%- else %}\n    {%- if messages[0].role == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}\n    {%- endif %}\n{%- endif %}\n"
    "{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}\n"
    "{%- for message in messages[::-1] %}\n"
    "    {%- set index = (messages|length - 1) - loop.index0 %}\n"
    "    {%- if ns.multi_step_tool and message.role == \"user\" and message.content is string and "
    "not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}\n"
    "        {%- set ns.multi_step_tool = false %}\n        {%- set ns.last_query_index = index %}\n"
    "    {%- endif %}\n{%- endfor %}\n"
    "{%- for message in messages %}\n"
    "    {%- if message.content is string %}\n        {%- set content = message.content %}\n    {%- else %}\n"
    "        {%- set content = '' %}\n    {%- endif %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}\n"
    "    {%- endif %}\n{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n"
    "    {%- if enable_thinking is defined and enable_thinking is false %}\n        {{- '<think>\\n\\n</think>\\n\\n' }}\n"
    "    {%- endif %}\n{%- endif %}";

TEST(test_qwen) {
    render_is(qwen25, "Where is Rex? ",
              "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
              "<|im_start|>user\nWhere is Rex? <|im_end|>\n<|im_start|>assistant\n");
    render_is(qwen3, "Where is Rex?", "<|im_start|>user\nWhere is Rex?<|im_end|>\n<|im_start|>assistant\n");
    CHECK_STR(lrp_chat_family(qwen3), "chatml");
}

// mistralai/Mistral-7B-Instruct-v0.1 and google/gemma-2b-it, one line each as shipped
static const char mistral[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
    "'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are "
    "supported!') }}{% endif %}{% endfor %}";
static const char gemma[] =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception("
    "'Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == "
    "'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + "
    "role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{'<start_of_turn>model\\n'}}{% endif %}";

TEST(test_mistral_gemma) {
    render_is(mistral, " Where is Rex?", "<s>[INST]  Where is Rex? [/INST]");
    render_is(gemma, " Where is Rex?\n", "<s><start_of_turn>user\nWhere is Rex?<end_of_turn>\n<start_of_turn>model\n");
    CHECK_STR(lrp_chat_family(mistral), "llama-2");
    CHECK_STR(lrp_chat_family(gemma), "gemma");
    CHECK_STR(lrp_chat_family("{{ messages }}"), "other");
}

TEST(test_whitespace) {
    render_is("A\n  {% if true %}\n  B\n  {% endif %}\nC", "", "A\n  B\nC");      // lstrip_blocks, trim_blocks
    render_is("A\n  {%+ if true %}B{% endif %}", "", "A\n  B");                      // {%+ keeps the indentation
    render_is("A  {{ 'x' }}  \nB", "", "A  x  \nB");                                 // {{ }} is not a block
    render_is("A \n {%- if true -%} \n B {%- endif %}\nC", "", "ABC");
    render_is("a{# comment #}\nb {#- c -#} c", "", "abc");
    render_is("x{% if true %}\r\ny{% endif %}", "", "xy");
}

TEST(test_expressions) {
    render_is("{{ 'a' ~ 1 ~ none ~ true }}|{{ [1, 2, 3][::-1] }}|{{ [1, 2, 3][1:] }}|{{ 'hello'[-3:] }}", "",
              "a1NoneTrue|[3, 2, 1]|[2, 3]|llo");
    render_is("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 * 3 + 1 }} {{ 1 + 2 * 3 }} {{ 7 / 2 }} {{ '-' * 3 }}", "",
              "3 -4 2 7 7 3.5 ---");
    render_is("{{ 'x' if false else 'y' }}{{ 'z' if true }}{{ 'w' if false }}|{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}", "",
              "yz|TrueFalse");
    render_is("{{ messages | selectattr('role', 'equalto', 'user') | list | length }}{{ messages | map(attribute='role') "
              "| join(',') }}{{ messages | rejectattr('content') | list | length }}", "hi", "1user0");
    render_is("{{ ' a  b '.split() }}{{ 'a,b,,c'.split(',') }}{{ 'a,b'.split(',')[1] }}{{ 'a b c'.split(' ', 1) }}", "",
              "['a', 'b']['a', 'b', '', 'c']b['a', 'b c']");
    render_is("{{ {'k': [1, 'v\"'], 'n': none, 't': true} | tojson }}|{{ {'k': 'v'} }}", "",
              "{\"k\": [1, \"v\\\"\"], \"n\": null, \"t\": true}|{'k': 'v'}");
    render_is("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{{ {'a': 1}.get('b', 5) }}"
              "{{ {'a': 1}.get('c') }}", "", "a=1;b=2;5None");
    render_is("{{ foo is defined }}{{ bos_token is defined }}{{ none is none }}{{ 'x' is string }}{{ 3 is not string }}"
              "{{ 4 is even }}", "", "FalseTrueTrueTrueTrueTrue");
    render_is("{{ 'ab' in 'xaby' }}{{ 3 not in [1, 2] }}{{ 'role' in messages[0] }}{{ not 'a' }}", "", "TrueTrueTrueFalse");
    render_is("{{ '\\u00e9\\t\\x41' }}{{ \"it's\" }}{{ 'a' 'b' }}", "", "\xc3\xa9\tAit'sab");
    render_is("{{ '  x  ' | trim }}|{{ 'xxaxx'.strip('x') }}|{{ 'ab\\n\\n'.rstrip('\\n') }}|{{ 'Hi There' | lower }}"
              "{{ 'hi there' | title }}{{ 'hI' | capitalize }}{{ 'é' | length }}", "",
              "x|a|ab|hi thereHi ThereHi1");
    render_is("{{ undefined_thing }}{{ x | default('d') }}{{ '' | default('e', true) }}{{ [1, 2] | first }}{{ [1, 2] | last }}"
              "{{ 'abc' | reverse }}{{ 'a-b' | replace('-', '+') }}{{ '12' | int + 1 }}{{ 3 | string + 'x' }}", "",
              "de12cbaa+b133x");
    render_is("{{ 'x'.startswith('x') and 'xy'.endswith('y') }}{{ 0 or 'alt' }}{{ 1 and 'yes' }}", "", "Truealtyes");
}

TEST(test_statements) {
    render_is("{% for x in [1, 2, 3] if x != 2 %}{{ loop.index }}{{ x }}{{ ',' if not loop.last }}{% endfor %}", "",
              "11,23");
    render_is("{% for x in range(5) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}"
              "{{ x }}{% endfor %}", "", "02");
    render_is("{% set ns = namespace(n=0) %}{% for x in range(4) %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}", "",
              "6");
    render_is("{% set y = 1 %}{% for x in [5] %}{% set y = x %}{{ y }}{% endfor %}{{ y }}", "", "51");
    render_is("{% for x in [] %}a{% else %}empty{% endfor %}", "", "empty");
    render_is("{% for x in ['a', 'b'] %}{% for y in [1, 2] %}{{ loop.index0 }}{{ x }}{% endfor %}{{ loop.index }}{% endfor %}",
              "", "0a1a10b1b2");
    render_is("{% if false %}a{% elif 1 == 1 %}b{% else %}c{% endif %}{% if none %}x{% else %}y{% endif %}", "", "by");
    render_is("{% generation %}g{% endgeneration %}{{ loop is defined }}", "", "gFalse");
    render_is("{% for m in messages %}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ m.role }}"
              "{% endfor %}", "hi", "TrueTrue11user");
}

TEST(test_errors) {
    error_is("{{ raise_exception('No system messages') }}", "chat_template: line 1: raise_exception: No system messages");
    error_is("a\n{{ x | wordwrap }}", "chat_template: line 2: unknown filter \"wordwrap\"");
    error_is("{{ x ", "chat_template: line 1: a tag is not closed (missing \"}}\")");
    error_is("{% if true %}a", "chat_template: line 1: an if without endif");
    error_is("{% for x in y %}a", "chat_template: line 1: a for without endfor");
    error_is("a{% endif %}", "chat_template: line 1: unexpected \"endif\"");
    error_is("{% macro m() %}{% endmacro %}", "chat_template: line 1: statement \"macro\" is not supported here");
    error_is("{{ 'a' + 1 }}", "chat_template: line 1: '+' needs two numbers (or strings / lists for '+')");
    error_is("{{ 'unclosed }}", "chat_template: line 1: a string is not closed");
    error_is("{{ 1 2 }}", "chat_template: line 1: unexpected '2' at the end of a statement");
    error_is("{% set x.y = 1 %}", "chat_template: line 1: set x.y: x is not a namespace()");
    error_is("{{ range(1000000) }}", "chat_template: line 1: range: more than 100000 values");
    // hostile nesting: an error, not a stack overflow
    size_t n = 300000;
    char *deep = malloc(4 * n + 16);
    strcpy(deep, "{{ ");
    for (size_t i = 0; i < n; i++) strcat(deep + 3 + i, "(");
    CHECK(deep != NULL);
    char *p = deep + 3 + n;
    for (size_t i = 0; i < n; i++) *p++ = ')';
    strcpy(p, " }}");
    error_is(deep, "chat_template: line 1: expressions nested too deeply");
    p = deep;
    for (size_t i = 0; i < n / 20; i++) p += sprintf(p, "{%% if 1 %%}");
    strcpy(p, "x");
    error_is(deep, "chat_template: line 1: statements nested too deeply");
    strcpy(deep, "{{ ");
    p = deep + 3;
    for (size_t i = 0; i < n; i++) p += sprintf(p, "not ");
    strcpy(p, "1 }}");
    error_is(deep, "chat_template: line 1: expressions nested too deeply");
    free(deep);
    char *out;
    lrp_err err;
    CHECK(lrp_chat_prompt("", "<s>", NULL, "hi", &out, &(const char *){NULL}, &err) != 0);
    CHECK_STR(err.msg, "chat_template: the model has no chat template");
}

TEST_MAIN(T(test_llama31), T(test_qwen), T(test_mistral_gemma), T(test_whitespace), T(test_expressions),
          T(test_statements), T(test_errors))
