"""A synthetic parallel corpus (English, German, French) that the project generates itself.

SYNTHETIC DATA: sentences are drawn from a template with a small parallel lexicon
("the old farmer buys three red apples in Berlin on Monday" and its German and
French renderings). They exist so the quickstart runs offline in minutes; they say
nothing about natural language. Each slot is rendered per language in the grammatical
form the template needs, so translations are word-aligned but not word-for-word.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from flip_pipeline.formats.corpus_table import SPLITS

# Each entry: (English, German, French).
SUBJECTS = [
    ("the farmer", "der Bauer", "le fermier"),
    ("the old farmer", "der alte Bauer", "le vieux fermier"),
    ("my sister", "meine Schwester", "ma sœur"),
    ("my brother", "mein Bruder", "mon frère"),
    ("the teacher", "die Lehrerin", "l'enseignante"),
    ("the young doctor", "der junge Arzt", "le jeune médecin"),
    ("our neighbour", "unser Nachbar", "notre voisin"),
    ("the baker", "der Bäcker", "le boulanger"),
    ("the painter", "die Malerin", "la peintre"),
    ("the captain", "der Kapitän", "le capitaine"),
    ("a tourist", "ein Tourist", "un touriste"),
    ("the child", "das Kind", "l'enfant"),
    ("my grandmother", "meine Großmutter", "ma grand-mère"),
    ("the engineer", "die Ingenieurin", "l'ingénieure"),
    ("the mayor", "der Bürgermeister", "le maire"),
    ("a student", "eine Studentin", "une étudiante"),
    ("the cook", "der Koch", "le cuisinier"),
    ("the lawyer", "die Anwältin", "l'avocate"),
    ("my uncle", "mein Onkel", "mon oncle"),
    ("the nurse", "der Pfleger", "l'infirmier"),
    ("the musician", "die Musikerin", "la musicienne"),
    ("the pilot", "der Pilot", "le pilote"),
    ("a fisherman", "ein Fischer", "un pêcheur"),
    ("the librarian", "die Bibliothekarin", "la bibliothécaire"),
]

VERBS = [
    ("buys", "kauft", "achète"),
    ("sells", "verkauft", "vend"),
    ("paints", "malt", "peint"),
    ("counts", "zählt", "compte"),
    ("finds", "findet", "trouve"),
    ("needs", "braucht", "a besoin de"),
    ("collects", "sammelt", "collectionne"),
    ("repairs", "repariert", "répare"),
    ("orders", "bestellt", "commande"),
    ("hides", "versteckt", "cache"),
    ("carries", "trägt", "porte"),
    ("loses", "verliert", "perd"),
    ("washes", "wäscht", "lave"),
    ("wants", "will", "veut"),
]

NUMBERS = [
    ("two", "zwei", "deux"),
    ("three", "drei", "trois"),
    ("four", "vier", "quatre"),
    ("five", "fünf", "cinq"),
    ("six", "sechs", "six"),
    ("seven", "sieben", "sept"),
    ("eight", "acht", "huit"),
    ("nine", "neun", "neuf"),
    ("ten", "zehn", "dix"),
    ("twelve", "zwölf", "douze"),
    ("twenty", "zwanzig", "vingt"),
]

# Plural adjectives whose French form does not change with gender.
ADJECTIVES = [
    ("red", "rote", "rouges"),
    ("yellow", "gelbe", "jaunes"),
    ("strange", "seltsame", "étranges"),
    ("huge", "riesige", "énormes"),
    ("tiny", "winzige", "minuscules"),
    ("famous", "berühmte", "célèbres"),
    ("fragile", "zerbrechliche", "fragiles"),
    ("modern", "moderne", "modernes"),
    ("simple", "einfache", "simples"),
    ("clean", "saubere", "propres"),
    ("magnificent", "herrliche", "magnifiques"),
    ("cheap", "billige", "économiques"),
]

NOUNS = [
    ("apples", "Äpfel", "pommes"),
    ("books", "Bücher", "livres"),
    ("chairs", "Stühle", "chaises"),
    ("bicycles", "Fahrräder", "vélos"),
    ("lamps", "Lampen", "lampes"),
    ("boats", "Boote", "bateaux"),
    ("keys", "Schlüssel", "clés"),
    ("shoes", "Schuhe", "chaussures"),
    ("letters", "Briefe", "lettres"),
    ("cakes", "Kuchen", "gâteaux"),
    ("bottles", "Flaschen", "bouteilles"),
    ("clocks", "Uhren", "horloges"),
    ("tables", "Tische", "tables"),
    ("paintings", "Gemälde", "tableaux"),
    ("windows", "Fenster", "fenêtres"),
    ("baskets", "Körbe", "paniers"),
    ("guitars", "Gitarren", "guitares"),
    ("maps", "Landkarten", "cartes"),
    ("cups", "Tassen", "tasses"),
    ("hats", "Hüte", "chapeaux"),
    ("lemons", "Zitronen", "citrons"),
    ("candles", "Kerzen", "bougies"),
    ("umbrellas", "Regenschirme", "parapluies"),
    ("carpets", "Teppiche", "tapis"),
]

PLACES = [
    ("in Berlin", "in Berlin", "à Berlin"),
    ("in Paris", "in Paris", "à Paris"),
    ("in Vienna", "in Wien", "à Vienne"),
    ("in Lyon", "in Lyon", "à Lyon"),
    ("in Munich", "in München", "à Munich"),
    ("in Geneva", "in Genf", "à Genève"),
    ("in Hamburg", "in Hamburg", "à Hambourg"),
    ("in Marseille", "in Marseille", "à Marseille"),
    ("in Cologne", "in Köln", "à Cologne"),
    ("in Brussels", "in Brüssel", "à Bruxelles"),
    ("in London", "in London", "à Londres"),
    ("in New York", "in New York", "à New York"),
    ("at the market", "auf dem Markt", "au marché"),
    ("at the station", "am Bahnhof", "à la gare"),
    ("in the garden", "im Garten", "dans le jardin"),
    ("near the river", "am Fluss", "près de la rivière"),
    ("in the village", "im Dorf", "au village"),
    ("at the harbour", "im Hafen", "au port"),
]

TIMES = [
    ("on Monday", "am Montag", "lundi"),
    ("on Tuesday", "am Dienstag", "mardi"),
    ("on Friday", "am Freitag", "vendredi"),
    ("on Sunday", "am Sonntag", "dimanche"),
    ("today", "heute", "aujourd'hui"),
    ("tomorrow", "morgen", "demain"),
    ("every morning", "jeden Morgen", "chaque matin"),
    ("every evening", "jeden Abend", "chaque soir"),
    ("in winter", "im Winter", "en hiver"),
    ("in summer", "im Sommer", "en été"),
    ("at noon", "mittags", "à midi"),
    ("once a week", "einmal pro Woche", "une fois par semaine"),
]

LANGUAGES = ("en", "de", "fr")

def _render(lang_index: int, parts: list[tuple[str, str, str]]) -> str:
    subject, verb, number, adjective, noun, place, time = (p[lang_index] for p in parts)
    if lang_index == 0:
        words = [subject, verb, number, adjective, noun, place, time]
    elif lang_index == 1:
        words = [subject, verb, time, number, adjective, noun, place]
    else:
        words = [subject, verb, number, noun, adjective, place, time]
    sentence = " ".join(words)
    return sentence[0].upper() + sentence[1:] + "."


def generate_sample_corpus(
    n_sentences: int,
    fractions: dict[str, float],
    languages: tuple[str, ...] = LANGUAGES,
    seed: int = 0,
) -> dict[str, pa.Table]:
    """Generate the synthetic parallel corpus, split deterministically.

    Args:
        n_sentences: total rows over all splits (> 0).
        fractions: share of rows per split, e.g. ``{"train": .8, "dev": .1, "test": .1}``;
            the test split takes the remainder so no row is lost to rounding.
        languages: subset of ``("en", "de", "fr")``; one ``text_{lang}`` view each.
        seed: seed of the sentence sampler.

    Returns:
        ``{split: table}`` with columns ``id``, ``text_{lang}``…, ``split``, ``synthetic``.
    """
    if n_sentences <= 0:
        raise ValueError("n_sentences must be positive")
    unknown = set(languages) - set(LANGUAGES)
    if unknown:
        raise ValueError(f"sample corpus has no language(s) {sorted(unknown)}; it has {LANGUAGES}")
    rng = np.random.default_rng(seed)
    slots = [SUBJECTS, VERBS, NUMBERS, ADJECTIVES, NOUNS, PLACES, TIMES]
    choices = np.stack([rng.integers(len(s), size=n_sentences) for s in slots], axis=1)

    counts = {s: int(round(fractions.get(s, 0.0) * n_sentences)) for s in SPLITS[:-1]}
    counts[SPLITS[-1]] = n_sentences - sum(counts.values())
    tables: dict[str, pa.Table] = {}
    start = 0
    for split in SPLITS:
        rows = range(start, start + counts[split])
        start += counts[split]
        columns: dict[str, list] = {"id": [f"sample-{i:07d}" for i in rows]}
        for lang in languages:
            li = LANGUAGES.index(lang)
            columns[f"text_{lang}"] = [
                _render(li, [slot[c] for slot, c in zip(slots, choices[i])]) for i in rows
            ]
        columns["split"] = [split] * len(rows)
        columns["synthetic"] = [True] * len(rows)
        tables[split] = pa.table(columns)
    return tables
