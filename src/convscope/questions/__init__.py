"""The three questions, answered from one run's own data, as facts with their numbers.

"How did it learn?", "What did it look at?", "Where does it decide?": each answer is a
list of :class:`Fact`, computed by a small function from stored arrays (probe logits of
every snapshot, confusion matrices, a Grad-CAM map, per-layer probe accuracies). A fact
is a message key and the numbers that go in it: the web app words it in the reader's
language. Where the data is missing (an older run, a lens not computed yet) the answer is
a fact that says what to open to compute it.
"""

from convscope.questions.deciding import DECISION_SHARE, deciding_answer, decision_layer
from convscope.questions.facts import Answer, Fact, Question
from convscope.questions.learning import (
    CLASS_LEARNED,
    MILESTONES,
    TOP_FORGOTTEN,
    accuracy_milestones,
    classes_learned_last,
    learning_answer,
    most_confused_pair,
    most_forgotten,
    probe_accuracies,
)
from convscope.questions.looking import attention_facts, faithfulness_fact, looking_answer

__all__ = [
    "CLASS_LEARNED",
    "DECISION_SHARE",
    "MILESTONES",
    "TOP_FORGOTTEN",
    "Answer",
    "Fact",
    "Question",
    "accuracy_milestones",
    "attention_facts",
    "classes_learned_last",
    "deciding_answer",
    "decision_layer",
    "faithfulness_fact",
    "learning_answer",
    "looking_answer",
    "most_confused_pair",
    "most_forgotten",
    "probe_accuracies",
]
