"""Write a large pickle in the PaddleRec layout (Tencent columns, one numpy int64 array per
multi-valued cell, protocol 4 as PaddleRec's files), for measuring `metaheac import-pkl`
time and peak memory per GB. Needs python3 + pandas (Debian: apt-get install python3-pandas);
the project itself never does.

    python3 bench/make_big_pickle.py ROWS OUT.pkl [PROTOCOL]
"""
import sys

import numpy as np
import pandas as pd

SINGLE = {'carrier': 3, 'consumptionAbility': 2, 'LBS': 855, 'age': 5, 'education': 7, 'gender': 2, 'house': 1}
MULTI = {'interest1': (124, 10), 'interest2': (82, 10), 'interest3': (12, 10), 'kw1': (263312, 5), 'kw2': (49780, 5),
         'topic1': (10002, 5), 'topic2': (9984, 5)}
TASK = {'advertiserId': 78, 'campaignId': 137, 'creativeSize': 14, 'adCategoryId': 39, 'productId': 32, 'productType': 3}


def main(rows, out, protocol=4):
    rng = np.random.default_rng(2021)
    cols = {'label': rng.integers(0, 2, rows), 'aid': rng.integers(0, 200, rows)}
    for name, m in SINGLE.items():
        cols[name] = rng.integers(0, m + 1, rows)
    lengths = {}
    for name, (m, w) in MULTI.items():
        ids = rng.integers(0, m + 1, (rows, w))
        cell = np.empty(rows, dtype=object)
        for r in range(rows):
            cell[r] = ids[r].copy()
        cols[name] = cell
        lengths[name + '_length'] = rng.integers(0, w + 1, rows)
    cols.update(lengths)
    for name, m in TASK.items():
        cols[name] = rng.integers(0, m + 1, rows)
    pd.DataFrame(cols).to_pickle(out, protocol=protocol)


if __name__ == '__main__':
    main(int(sys.argv[1]), sys.argv[2], *map(int, sys.argv[3:]))
