"""Payments from smart wallets (ERC-4337 bundles through the EntryPoint), verified from
the node's call trace, on a real node (anvil)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account

from bot.services.payments.refusals import (
    NothingPaidFromWallet,
    PaymentAlreadyUsed,
    SmartWalletPaymentUnsupported,
)
from bot.services.payments.verifier import PaymentPartial, PaymentVerified
from tests.fakes.chain import calldata
from tests.fakes.chain.payment_chain import (
    ENTRY_POINT_V07,
    PaymentContracts,
    payment_contracts,
)
from tests.support.payment_flow import (
    OTHER_USER,
    USER,
    Flow,
    count,
    flow,
)

__all__ = ["flow", "payment_contracts"]  # fixtures


@dataclass
class Bundles:
    flow: Flow
    entry_point: str

    async def account(self, contracts: PaymentContracts, funds: int) -> str:
        address = await self.flow.chain.deploy(contracts.smart_account)
        if funds:
            await self.flow.chain.send_transaction(to=address, value=funds)
        return address

    async def handle_ops(self, ops: list[tuple[str, str, int]]) -> str:
        """One bundle transaction: each (account, to, value) as a user operation."""
        senders = [account for account, _, _ in ops]
        calls = [
            calldata(
                "execute(address,uint256,bytes)", ["address", "uint256", "bytes"], [to, v, b""]
            )
            for _, to, v in ops
        ]
        receipt = await self.flow.chain.send_transaction(
            to=self.entry_point,
            data=calldata(
                "handleOps(address[],bytes[])", ["address[]", "bytes[]"], [senders, calls]
            ),
            sender=self.flow.bundler,
        )
        return receipt.transaction_hash


@pytest.fixture
async def bundles(flow: Flow, payment_contracts: PaymentContracts) -> Bundles:
    await flow.chain.set_code(ENTRY_POINT_V07, payment_contracts.entry_point.deployed_bytecode)
    return Bundles(flow, ENTRY_POINT_V07)


async def test_a_smart_wallet_payment_is_verified_from_the_call_trace(
    flow: Flow, bundles: Bundles, payment_contracts: PaymentContracts
) -> None:
    account = await bundles.account(payment_contracts, 10**17)
    quote = await flow.quote(wallet=account)
    tx_hash = await bundles.handle_ops([(account, flow.treasury, quote.wei)])

    result = await flow.verified(quote, tx_hash, wallet=account)

    assert (result.kind, result.value_wei) == ("internal", quote.wei)
    assert result.credit.wallet == account


async def test_a_smart_wallet_payment_without_traces_is_explained(
    flow: Flow, bundles: Bundles, payment_contracts: PaymentContracts
) -> None:
    account = await bundles.account(payment_contracts, 10**17)
    quote = await flow.quote(wallet=account)
    tx_hash = await bundles.handle_ops([(account, flow.treasury, quote.wei)])
    await flow.chain.mine(1)

    with pytest.raises(SmartWalletPaymentUnsupported) as refused:
        await flow.verify(
            quote, tx_hash, wallet=account, verifier=flow.verifier_with(use_call_traces=False)
        )
    assert refused.value.message == (
        "Payments from smart wallets can't be verified yet: pay from a regular wallet, "
        "or give a server admin the transaction hash: they can check it and grant you a "
        "training credit (`lora-bot admin grant-credit`)."
    )


async def test_a_failed_user_operation_inside_a_good_bundle_pays_nothing(
    flow: Flow, bundles: Bundles, payment_contracts: PaymentContracts
) -> None:
    broke = await bundles.account(payment_contracts, 0)  # cannot pay: execute reverts
    quote = await flow.quote(wallet=broke)
    tx_hash = await bundles.handle_ops([(broke, flow.treasury, quote.wei)])
    await flow.chain.mine(1)

    with pytest.raises(NothingPaidFromWallet, match="sent nothing"):
        await flow.verify(quote, tx_hash, wallet=broke)


async def test_a_smart_wallet_underpaying_is_a_part_it_can_top_up(
    flow: Flow, bundles: Bundles, payment_contracts: PaymentContracts
) -> None:
    account = await bundles.account(payment_contracts, 10**17)
    quote = await flow.quote(wallet=account)
    tx_hash = await bundles.handle_ops([(account, flow.treasury, quote.wei // 2)])
    await flow.chain.mine(1)

    part = await flow.verify(quote, tx_hash, wallet=account)
    assert isinstance(part, PaymentPartial)
    assert (part.value_wei, part.needed_wei) == (quote.wei // 2, quote.wei)
    assert await flow.credits.available(USER) == []

    rest = await bundles.handle_ops([(account, flow.treasury, part.missing_wei)])
    await flow.chain.mine(1)
    done = await flow.verify(quote, rest, wallet=account)
    assert isinstance(done, PaymentVerified) and done.kind == "internal"
    assert done.total_wei == quote.wei // 2 + part.missing_wei
    assert await flow.credits.available(USER) == [done.credit]


async def test_two_smart_wallets_paying_in_one_bundle_each_get_a_credit_once(
    flow: Flow, bundles: Bundles, payment_contracts: PaymentContracts
) -> None:
    first = await bundles.account(payment_contracts, 10**17)
    second = await bundles.account(payment_contracts, 10**17)
    first_quote = await flow.quote(wallet=first)
    second_quote = await flow.quote(user=OTHER_USER, wallet=second)
    tx_hash = await bundles.handle_ops(
        [(first, flow.treasury, first_quote.wei), (second, flow.treasury, second_quote.wei)]
    )
    await flow.chain.mine(1)

    one = await flow.verify(first_quote, tx_hash, wallet=first)
    two = await flow.verify(second_quote, tx_hash, user=OTHER_USER, wallet=second)

    assert isinstance(one, PaymentVerified)
    assert isinstance(two, PaymentVerified)
    with pytest.raises(PaymentAlreadyUsed):
        await flow.verify(first_quote, tx_hash, wallet=first)
    assert await count(flow.db, "training_credits") == 2


async def test_a_bundle_in_which_the_wallet_paid_someone_else(
    flow: Flow, bundles: Bundles, payment_contracts: PaymentContracts
) -> None:
    account = await bundles.account(payment_contracts, 10**17)
    quote = await flow.quote(wallet=account)
    tx_hash = await bundles.handle_ops([(account, Account.create().address, quote.wei)])
    await flow.chain.mine(1)

    with pytest.raises(NothingPaidFromWallet):
        await flow.verify(quote, tx_hash, wallet=account)
