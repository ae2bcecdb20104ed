"""Knowledge bases for retrieval-augmented answers.

Files in a folder (Markdown, text, HTML, PDF) → documents → overlapping chunks → embeddings and
BM25, persisted in SQLite per knowledge base, searched in memory by hybrid ranking (reciprocal
rank fusion of BM25 and cosine similarity). Nothing here knows the server: paths, the embedder
and the chunk sizes come in through constructors.
"""

from agent.knowledge.bm25 import BM25Index, tokenize
from agent.knowledge.chunking import Chunk, ChunkingParams, chunk_document, indexed_text
from agent.knowledge.documents import Document, load_document, parse_document, scan_folder
from agent.knowledge.embedder import Embedder, HashingEmbedder, MiniLMEmbedder, minilm_model_dir
from agent.knowledge.errors import KnowledgeError, UnknownKnowledgeBase
from agent.knowledge.index import IndexStats, KnowledgeIndex, Passage, SyncReport
from agent.knowledge.library import KNOWLEDGE_BASE_NAME, KnowledgeLibrary, folder_fingerprint
from agent.knowledge.store import KnowledgeStore

__all__ = [
    "KNOWLEDGE_BASE_NAME",
    "BM25Index",
    "Chunk",
    "ChunkingParams",
    "Document",
    "Embedder",
    "HashingEmbedder",
    "IndexStats",
    "KnowledgeError",
    "KnowledgeIndex",
    "KnowledgeLibrary",
    "KnowledgeStore",
    "MiniLMEmbedder",
    "Passage",
    "SyncReport",
    "UnknownKnowledgeBase",
    "chunk_document",
    "folder_fingerprint",
    "indexed_text",
    "load_document",
    "minilm_model_dir",
    "parse_document",
    "scan_folder",
    "tokenize",
]
