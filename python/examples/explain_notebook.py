# %% [markdown]
# # attnlrp from Python
# Cells for a notebook (Jupyter, VS Code: "# %%" starts a cell); also runs as a script:
#   PYTHONPATH=python /usr/bin/python3 python/examples/explain_notebook.py
# An Explanation shows itself as coloured tokens in a notebook (_repr_html_).

# %%
import os

import numpy as np

import attnlrp

model = attnlrp.Model()  # the shipped 4-layer LLaMA; attnlrp.Model("path/to/checkpoint") for another
ex = model.explain("Mia's cat is called Tom. Leo's dog is called Rex. Leo's dog is called")
print(ex)  # the prediction (" Rex") and what is explained
ex  # in a notebook: the tokens coloured by relevance

# %% the most relevant tokens
order = np.argsort(-ex.relevance)
for t in order[:3]:
    print("%8.3f  %r" % (ex.relevance[t], ex.tokens[t]))

# %% why " Rex" and not " Tom": a contrast, per layer
vs = model.explain(ex.ids, target=" Rex", contrast=" Tom", layers=True)
print(vs.explained, "=", round(vs.start_value, 3))
print("residual relevance, layer x token:", vs.layers.shape)

# %% a classifier, and the JSON the command-line tool prints
clf = attnlrp.Model(os.path.join(os.path.dirname(attnlrp.default_model()), "sentiment"))  # models/sentiment
print(clf.explain("the battery life is excellent").to_dict()["target_token"])

# %% generation with a callback per token
out = model.generate("Leo's dog is called", max_new=4, callback=lambda id, text: print(repr(text)))
print(out.text)
