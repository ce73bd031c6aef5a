"""The tutor's retrieval as a langchain retriever, so the notes plug into a user's own chain.

    retriever = Tutor().as_retriever(k=3)
    retriever.invoke("为什么需要位置编码？")   # Documents, or [] when the notes do not cover it

Each Document is one card: its answer as `page_content`, and its question, topic path,
source file and line, score and id as metadata. "Not in my notes" is kept: a question
the notes do not cover gets no documents, not the nearest unrelated ones.
"""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class NotesRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    tutor: Any  # a tutor.service.Tutor
    k: int = 3

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [
            Document(
                page_content=hit.card.answer,
                metadata={"id": hit.card.id, "question": hit.card.question, "path": list(hit.card.path),
                          "source": hit.card.source, "line": hit.card.line, "score": hit.score},
            )
            for hit in self.tutor.ask(query, k=self.k).hits
        ]
