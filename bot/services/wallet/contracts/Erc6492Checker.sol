// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IERC1271 {
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4);
}

/// @notice Checks a smart-wallet signature, deploying the wallet first if it does not exist
/// yet (ERC-6492). Never deployed itself: its creation code followed by the ABI-encoded
/// constructor arguments is the data of an `eth_call` without a `to` address. The
/// constructor does the work and returns one byte instead of runtime code: 0x01 when the
/// signature is valid, 0x00 when it is not. An `eth_call` changes no state, so a wallet
/// deployed here exists only while the call runs.
/// The embedded copy is `bot/services/contracts/erc6492_checker.py`; a test recompiles this
/// file and checks the two agree.
contract Erc6492Checker {
    constructor(
        address signer,
        bytes32 hash,
        address factory,
        bytes memory factoryCalldata,
        bytes memory signature
    ) {
        bool valid = isValidSignature(signer, hash, factory, factoryCalldata, signature);
        assembly {
            mstore(0, valid)
            return(31, 1)
        }
    }

    function isValidSignature(
        address signer,
        bytes32 hash,
        address factory,
        bytes memory factoryCalldata,
        bytes memory signature
    ) private returns (bool) {
        if (signer.code.length == 0) {
            (bool deployed,) = factory.call(factoryCalldata);
            if (!deployed || signer.code.length == 0) {
                return false;
            }
        }
        (bool answered, bytes memory result) =
            signer.staticcall(abi.encodeCall(IERC1271.isValidSignature, (hash, signature)));
        // As OpenZeppelin's SignatureChecker: the first word must be the magic value exactly.
        return answered && result.length >= 32
            && bytes32(result) == bytes32(IERC1271.isValidSignature.selector);
    }
}
