"""Twelve short financial sentences, six positive and six negative, for tiny real fits."""

POSITIVE = [
    "Profit rose strongly this quarter",
    "Sales increased and margins improved",
    "The company beat expectations",
    "Revenue grew by a record amount",
    "Operating income jumped",
    "Orders surged to an all-time high",
]
NEGATIVE = [
    "The company reported a heavy loss",
    "Sales fell sharply",
    "Profit warning issued after weak demand",
    "Revenue dropped and costs rose",
    "The firm cut jobs after losses",
    "Shares plunged on the bad results",
]
