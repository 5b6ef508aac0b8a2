import gzip, json, sys
sys.path.insert(0, 'docs/results/stall_draw')
import standing as S
from sim_bridge.episodes import load_episodes
reruns = json.loads(gzip.decompress((S.HERE / "policies.json.gz").read_bytes()))
FILES = {'unseen': 'sim_bridge/data/episodes/objnav_unseen_s20261201.jsonl.gz',
         'unseen2': 'sim_bridge/data/episodes/objnav_unseen_s20261202.jsonl.gz',
         'longtail': 'sim_bridge/data/episodes/longtail_objnav.jsonl.gz',
         'ltval': 'sim_bridge/data/episodes/longtail_objnav_val.jsonl.gz',
         'lt2': 'docs/results/longtail_s2/longtail_s2.jsonl.gz',
         'pickup': 'sim_bridge/data/episodes/pickup_unseen_s20261203.jsonl.gz'}
jobs = []
for p in ['objnav-ppo-lag','objnav-bc','objnav-ppo','objnav-ppo-penalty','expert-careless']:
    for s in FILES:
        if s == 'pickup' and not p.startswith('expert'): continue
        off, on = S.expert(s) if p.startswith('expert') else S.policy(s, p, reruns)
        ids = [e.episode_id for e in load_episodes(FILES[s])]
        cand = [ids.index(r['episode_id']) for r in on if r['blocked'] > 0 and r['collisions'] > 0]
        bundle = 'expert:careless' if p.startswith('expert') else f'models/{p}'
        for k in range(0, len(cand), 8):
            chunk = cand[k:k+8]
            if not (s == 'longtail' and p == 'objnav-ppo-lag'):
                jobs.append(f"{bundle} {FILES[s]} {','.join(map(str, chunk))} runs/s44/nobase/{p}_{s}_{k}.jsonl")
print('\n'.join(jobs))
