"""The models of params.yaml, one module per section, at the config layer (below every stage).

    split.py     split          per task: real train / test / few-shot pool sizes
    mix.py       mixes          real+synthetic sources, and the one reader of a mix's name
    train.py     train          classifier backend (and the backends' registry), encoder, head, schedule
    llm.py       llm            which server and model generate, and how calls are made
    generate.py  generate       what to produce, what to reject, prices and budget
    validate.py  validate       the expectations' thresholds and the failure policy
    analyze.py   analyze        instance-level sweep, Bradley-Terry, `synthclf judge`
    compare.py   compare        learning-curve sizes, intervals, the verdict's thresholds

`resources` is the exception: its model stays in synthclf/resources.py beside the runtime code
that reads it, because that code sits in the base layer (text/embeddings.py asks it for threads)
and a base module may not import upward. The top-level keys (seed, tasks, sources) and the
checks across sections are in config.py, which composes the sections into `Params` and loads
params.yaml. The stages import their sections from here; nothing here imports a stage.
"""
