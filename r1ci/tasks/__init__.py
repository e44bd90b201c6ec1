"""Tasks: the protocol, the registry, the one answer extractor and the train/test split."""

from r1ci.tasks.answer import extract_answer
from r1ci.tasks.base import ANSWER_INSTRUCTION, SOURCES, SolvableTask, Task, TaskBase, TaskItem
from r1ci.tasks.registry import get_task, list_tasks, register, task_source
from r1ci.tasks.split import Split, load_split

__all__ = [
    "ANSWER_INSTRUCTION", "SOURCES", "SolvableTask", "Split", "Task", "TaskBase", "TaskItem",
    "extract_answer", "get_task", "list_tasks", "load_split", "register", "task_source",
]
