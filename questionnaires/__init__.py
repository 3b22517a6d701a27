"""Questionnaires as versioned data: the model, the loader and the expression language."""

from questionnaires.errors import ExpressionError, QuestionnaireError, QuestionnaireWarning
from questionnaires.loader import load_questionnaire, parse_questionnaire
from questionnaires.model import (
    DONT_KNOW,
    PREFER_NOT,
    SPECIAL_CODES,
    Choice,
    ChoiceList,
    Column,
    Consent,
    DerivedScore,
    Dimension,
    Index,
    Question,
    Questionnaire,
    Quotas,
    Score,
    Section,
    Settings,
    Text,
)
from questionnaires.registry import QuestionnaireRegistry, RegistryProblem, load_registry
from questionnaires.xlsform import read_xlsform, write_xlsform
from questionnaires.yaml_writer import dump_yaml, write_yaml

__all__ = [
    "DONT_KNOW",
    "PREFER_NOT",
    "SPECIAL_CODES",
    "Choice",
    "ChoiceList",
    "Column",
    "Consent",
    "DerivedScore",
    "Dimension",
    "ExpressionError",
    "Index",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "QuestionnaireRegistry",
    "QuestionnaireWarning",
    "Quotas",
    "RegistryProblem",
    "Score",
    "Section",
    "Settings",
    "Text",
    "dump_yaml",
    "load_questionnaire",
    "load_registry",
    "parse_questionnaire",
    "read_xlsform",
    "write_xlsform",
    "write_yaml",
]
