"""Questionnaires as versioned data: the model, the loader and the expression language."""

from questionnaires.errors import ExpressionError, QuestionnaireError, QuestionnaireWarning

__all__ = ["ExpressionError", "QuestionnaireError", "QuestionnaireWarning"]
