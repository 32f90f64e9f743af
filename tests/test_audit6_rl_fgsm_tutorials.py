"""PyTorch's DQN, FGSM and data-loading tutorials, ported with tiny synthetic data.

Each test runs the tutorial's own lines (with ``argmax`` where the tutorial reads
``max(dim).indices``: ``max(dim)`` returns values only here, docs/deviations.md) and
checks the numbers against a NumPy computation of the documented formulas.
"""

from collections import deque, namedtuple

import numpy as np

import tinygrad_opt as torch
import tinygrad_opt.nn as nn
import tinygrad_opt.nn.functional as F
import tinygrad_opt.optim as optim
from tinygrad_opt.utils.data import DataLoader, Dataset

Transition = namedtuple("Transition", ("state", "action", "next_state", "reward"))


def _smooth_l1_grad(d, beta=1.0):
    """d/dx of mean smooth-L1 of x - y, per element (PyTorch's smooth_l1_backward)."""
    return np.where(np.abs(d) < beta, d / beta, np.sign(d)) / d.size


def _numpy_adamw_amsgrad(p, g, state, lr, step, betas=(0.9, 0.999), eps=1e-8, wd=0.01):
    """AdamW with amsgrad, PyTorch's documented update (decoupled decay, v_max)."""
    state["m"] = betas[0] * state.get("m", 0) + (1 - betas[0]) * g
    state["v"] = betas[1] * state.get("v", 0) + (1 - betas[1]) * g * g
    state["v_max"] = np.maximum(state.get("v_max", 0), state["v"])
    denom = np.sqrt(state["v_max"]) / np.sqrt(1 - betas[1] ** step) + eps
    return p * (1 - lr * wd) - lr / (1 - betas[0] ** step) * state["m"] / denom


def test_dqn_optimize_model_and_soft_update_match_numpy(device, rng):
    BATCH_SIZE, GAMMA, TAU, LR = 6, 0.9, 0.05, 0.01
    policy_net = nn.Linear(3, 2).to(device)
    target_net = nn.Linear(3, 2).to(device)
    W0 = rng.normal(size=(2, 3)).astype(np.float32)
    b0 = rng.normal(size=2).astype(np.float32)
    with torch.no_grad():
        policy_net.weight.copy_(torch.tensor(W0, device=device))
        policy_net.bias.copy_(torch.tensor(b0, device=device))
    target_net.load_state_dict(policy_net.state_dict())
    optimizer = optim.AdamW(policy_net.parameters(), lr=LR, amsgrad=True)
    final = np.array([False, True, False, False, True, False])
    W, b = W0.astype(np.float64), b0.astype(np.float64)
    Wt, bt = W.copy(), b.copy()
    adam_state = ({}, {})
    # large states first (clip_value 100 bites), then small ones (v falls: v_max counts)
    for step, scale in ((1, 300.0), (2, 3.0)):
        states = (rng.normal(size=(BATCH_SIZE, 3)) * scale).astype(np.float32)
        nexts = rng.normal(size=(BATCH_SIZE, 3)).astype(np.float32)
        actions = rng.integers(0, 2, BATCH_SIZE)
        rewards = rng.normal(size=BATCH_SIZE)
        memory = deque([], maxlen=10)
        for i in range(BATCH_SIZE):
            state = torch.tensor(states[i], dtype=torch.float32, device=device).unsqueeze(0)
            nxt = None if final[i] else torch.tensor(nexts[i], dtype=torch.float32,
                                                     device=device).unsqueeze(0)
            action = torch.tensor([[int(actions[i])]], device=device, dtype=torch.long)
            memory.append(Transition(state, action, nxt,
                                     torch.tensor([float(rewards[i])], device=device)))
        batch = Transition(*zip(*list(memory)))
        non_final_mask = torch.tensor(tuple(map(lambda s: s is not None, batch.next_state)),
                                      device=device, dtype=torch.bool)
        non_final_next_states = torch.cat([s for s in batch.next_state if s is not None])
        state_action_values = policy_net(torch.cat(batch.state)).gather(
            1, torch.cat(batch.action))
        next_state_values = torch.zeros(BATCH_SIZE, device=device)
        with torch.no_grad():
            # the tutorial's .max(1).values: max(dim) gives the values here
            next_state_values[non_final_mask] = target_net(non_final_next_states).max(1)
        expected = (next_state_values * GAMMA) + torch.cat(batch.reward)
        loss = nn.SmoothL1Loss()(state_action_values, expected.unsqueeze(1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_value_(policy_net.parameters(), 100)
        optimizer.step()
        target_sd, policy_sd = target_net.state_dict(), policy_net.state_dict()
        for key in policy_sd:
            target_sd[key] = policy_sd[key] * TAU + target_sd[key] * (1 - TAU)
        target_net.load_state_dict(target_sd)

        nsv = np.where(final, 0.0, (nexts @ Wt.T + bt).max(1))
        q = states @ W.T + b
        d = q[np.arange(BATCH_SIZE), actions] - (nsv * GAMMA + rewards)
        gq = np.zeros_like(q)
        gq[np.arange(BATCH_SIZE), actions] = _smooth_l1_grad(d)
        assert (np.abs(gq.T @ states).max() > 100) == (step == 1)
        np.testing.assert_allclose(loss.item(), np.mean(np.where(
            np.abs(d) < 1, 0.5 * d * d, np.abs(d) - 0.5)), rtol=1e-5)
        W = _numpy_adamw_amsgrad(W, np.clip(gq.T @ states, -100, 100), adam_state[0], LR, step)
        b = _numpy_adamw_amsgrad(b, np.clip(gq.sum(0), -100, 100), adam_state[1], LR, step)
        Wt, bt = W * TAU + Wt * (1 - TAU), b * TAU + bt * (1 - TAU)
    assert (adam_state[0]["v_max"] > adam_state[0]["v"]).any()
    np.testing.assert_allclose(policy_net.weight.detach().numpy(), W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(policy_net.bias.detach().numpy(), b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(target_net.weight.detach().numpy(), Wt, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(target_net.bias.detach().numpy(), bt, rtol=1e-5, atol=1e-6)
    assert target_net.weight.requires_grad and target_net.weight.is_leaf
    # epsilon-greedy's greedy branch, argmax in place of max(1).indices
    probe = rng.normal(size=(1, 3)).astype(np.float32)
    with torch.no_grad():
        greedy = policy_net(torch.tensor(probe, device=device)).argmax(1).view(1, 1)
    assert greedy.shape == (1, 1) and greedy.dtype == torch.long
    assert greedy.item() == int(np.argmax(probe @ W.T + b))


def test_fgsm_attack_matches_numpy(device, rng):
    model = nn.Linear(4, 3).to(device)
    model.eval()
    x = rng.random((1, 4)).astype(np.float32)
    data = torch.tensor(x, device=device)
    target = torch.tensor([2], device=device)
    data.requires_grad = True
    output = F.log_softmax(model(data), dim=1)
    init_pred = output.argmax(1, keepdim=True)
    loss = F.nll_loss(output, target)
    model.zero_grad()
    loss.backward()
    epsilon = 0.25
    perturbed = torch.clamp(data + epsilon * data.grad.sign(), 0, 1)
    adv_ex = perturbed.squeeze().detach().cpu().numpy()

    W = model.weight.detach().numpy().astype(np.float64)
    z = x @ W.T + model.bias.detach().numpy()
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    grad_x = (p - np.eye(3)[2]) @ W                      # d(-log p_2)/dx
    np.testing.assert_allclose(data.grad.numpy(), grad_x, rtol=1e-5, atol=1e-6)
    assert init_pred.shape == (1, 1) and init_pred.item() == int(np.argmax(z))
    assert adv_ex.shape == (4,) and adv_ex.dtype == np.float32
    np.testing.assert_allclose(adv_ex, np.clip(x[0] + epsilon * np.sign(grad_x[0]), 0, 1),
                               rtol=1e-6)
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())   # set_to_none=True, PyTorch's default


class _Rescale:
    def __init__(self, output_size):
        self.output_size = output_size

    def __call__(self, sample):
        image, landmarks = sample["image"], sample["landmarks"]
        h, w = image.shape[:2]
        new_h, new_w = self.output_size
        img = image[np.arange(new_h) * h // new_h][:, np.arange(new_w) * w // new_w] / 255
        return {"image": img, "landmarks": landmarks * [new_w / w, new_h / h]}


class _RandomCrop:
    def __init__(self, output_size):
        self.output_size = (output_size, output_size)

    def __call__(self, sample):
        image, landmarks = sample["image"], sample["landmarks"]
        h, w = image.shape[:2]
        new_h, new_w = self.output_size
        top = np.random.randint(0, h - new_h + 1)
        left = np.random.randint(0, w - new_w + 1)
        return {"image": image[top:top + new_h, left:left + new_w],
                "landmarks": landmarks - [left, top]}


class _ToTensor:
    def __call__(self, sample):
        image = sample["image"].transpose((2, 0, 1))
        return {"image": torch.from_numpy(image),
                "landmarks": torch.from_numpy(sample["landmarks"])}


class _Compose:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, sample):
        for t in self.transforms:
            sample = t(sample)
        return sample


class _Faces(Dataset):
    def __init__(self, images, landmarks, transform=None):
        self.images, self.landmarks, self.transform = images, landmarks, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, idx):
        if torch.is_tensor(idx):
            idx = idx.tolist()
        sample = {"image": self.images[idx],
                  "landmarks": np.array([self.landmarks[idx]], dtype=float).reshape(-1, 2)}
        return self.transform(sample) if self.transform else sample


def test_data_loading_tutorial_transforms_and_loaders(rng):
    images = [(rng.random((9 + i, 11, 3)) * 255).astype(np.uint8) for i in range(5)]
    marks = [rng.random(6) * 8 for _ in range(5)]
    transform = _Compose([_Rescale((8, 8)), _RandomCrop(6), _ToTensor()])
    dataset = _Faces(images, marks, transform)

    saved = np.random.get_state()  # the tutorial's RandomCrop draws from NumPy's global state
    np.random.seed(3)  # the same crops, drawn by the NumPy-only transforms
    host_only = _Compose([_Rescale((8, 8)), _RandomCrop(6)])
    expected = [host_only({"image": images[i], "landmarks": marks[i].reshape(-1, 2)})
                for i in range(5)]
    np.random.seed(3)
    loader = DataLoader(dataset, batch_size=2, shuffle=False, num_workers=0)
    batches = list(loader)
    assert [b["image"].shape for b in batches] == [(2, 3, 6, 6), (2, 3, 6, 6), (1, 3, 6, 6)]
    got = np.concatenate([b["image"].numpy() for b in batches])
    assert got.dtype == np.float64 and batches[0]["landmarks"].dtype == torch.float64
    np.testing.assert_array_equal(got, np.stack([e["image"].transpose(2, 0, 1)
                                                 for e in expected]))
    np.testing.assert_array_equal(np.concatenate([b["landmarks"].numpy() for b in batches]),
                                  np.stack([e["landmarks"] for e in expected]))
    assert dataset[torch.tensor(1)]["image"].shape == (3, 6, 6)

    def collate(batch):  # images stacked, landmark arrays kept as a list
        return torch.stack([s["image"] for s in batch]), [s["landmarks"] for s in batch]

    np.random.seed(3)
    custom = DataLoader(dataset, batch_size=2, collate_fn=collate, num_workers=0,
                        drop_last=True)
    out = list(custom)
    assert len(custom) == len(out) == 2
    np.testing.assert_array_equal(out[1][0].numpy(), got[2:4])
    assert [lm.shape for lm in out[1][1]] == [(3, 2), (3, 2)]
    np.random.set_state(saved)
